// "Sync now" (test id sync-now) and when the page last synced, in words (sync-last): the last
// time it heard from the server (a push, a keep-alive, a fetched cart). Kept out of the
// indicator's live region: a clock that moves every minute is not news to announce.
import { replayQueue } from "./offline-queue.js";
import { say } from "./page.js";
import { resync } from "./resync.js";
import { reconnectNow } from "./socket.js";

const REFRESH_MS = 15000;
let lastSync = Date.now(); // the page itself was rendered from what the server holds

export function markSynced() {
  lastSync = Date.now();
  showLastSync();
}

export function ago(ms) {
  const minutes = Math.floor(ms / 60000);
  if (ms < 45000) return "just now";
  if (minutes < 2) return "1 minute ago";
  if (minutes < 60) return `${minutes} minutes ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return hours === 1 ? "1 hour ago" : `${hours} hours ago`;
  return `on ${new Date(Date.now() - ms).toLocaleString()}`;
}

function showLastSync() {
  const el = document.querySelector('[data-testid="sync-last"]');
  if (!el) return;
  const text = `Synced ${ago(Date.now() - lastSync)}`;
  if (el.textContent !== text) el.textContent = text;
  el.title = new Date(lastSync).toLocaleString();
}

function syncNow(button) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  reconnectNow();
  replayQueue()
    .then(() => resync())
    .then((ok) => {
      if (ok) return;
      const why = navigator.onLine ? "the shop did not answer" : "this device is offline";
      say(`<p class="notice error">Could not sync: ${why}. Your cart is kept; try again in a moment.</p>`);
    })
    .finally(() => { button.disabled = false; button.removeAttribute("aria-busy"); });
}

export function initSyncControls() {
  const button = document.querySelector('[data-testid="sync-now"]');
  if (button) {
    button.hidden = false; // without this script it could do nothing
    button.addEventListener("click", () => syncNow(button));
  }
  const last = document.querySelector('[data-testid="sync-last"]');
  if (last) last.hidden = false;
  showLastSync();
  setInterval(showLastSync, REFRESH_MS);
}
