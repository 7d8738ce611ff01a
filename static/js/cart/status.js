// The live-sync indicator (test id sync-status): the connection's state in words, plus how
// many changes are waiting in the offline queue.
import { queued } from "./queue-store.js";

const WORDS = {
  connected: "Live sync: connected",
  // Server-Sent Events or long polls, where a network blocks the WebSocket (fallback.js).
  fallback: "Live sync: Connected (fallback)",
  connecting: "Live sync: connecting…",
  offline: "Live sync: offline",
};
let connection = "connecting";

// Without a state, only the waiting count is refreshed.
export function showStatus(state) {
  if (state) connection = state;
  const el = document.getElementById("sync-status");
  if (!el) return;
  const waiting = queued().length;
  let text = WORDS[connection];
  if (waiting) text += ` · ${waiting} ${waiting === 1 ? "change" : "changes"} waiting to be sent`;
  el.dataset.state = connection;
  el.dataset.pending = String(waiting);
  el.querySelector(".sync-text").textContent = text;
}
