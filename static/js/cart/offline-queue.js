// Changes that could not be sent wait in the queue and are replayed in order, each under its
// own idempotency key: a change that did reach the server before the connection dropped is
// answered with its first result, never applied twice. queue-store.js keeps them sealed.
import { confirm, rollBack, waiting } from "./optimistic.js";
import { csrfToken, newKey, pageId, say } from "./page.js";
import { append, forget, migratePlainQueue, open, queued, written } from "./queue-store.js";
import { resync } from "./resync.js";
import { showStatus } from "./status.js";
import { applyOutOfBand } from "./version-guard.js";

// A replay gives up on an answer that does not come (a connection that only looks back):
// the change stays queued under its key, and the lock passes on.
const SEND_TIMEOUT_MS = 15000;
let replaying = false;
let retryTimer = null;
let retryDelay = 0;

// A change as htmx was about to send it, without the form's (possibly stale) CSRF token.
export function itemOf(cfg) {
  const params = {};
  (cfg.formData || new FormData()).forEach((value, name) => { if (name !== "csrf_token") params[name] = value; });
  if (!params.idempotency_key) params.idempotency_key = newKey();
  return { path: cfg.path, params };
}

export function keep(item) {
  waiting(item.params.idempotency_key);
  say('<p class="notice">You are offline. The change is saved on this device and will be sent when the connection returns.</p>');
  return append(item).then(() => {
    showStatus();
    if (navigator.onLine) retryLater(); // it failed while online: the server may be away
  });
}

const staleToken = (response) => response.status === 403 && response.headers.get("X-Error-Code") === "csrf_failed";

// Sent by hand, outside htmx. `final`: this answer settles the change's pending mark (a
// replay decides for itself: a 429 or 5xx leaves it queued).
export function send(item, final = true) {
  const sent = fetch(item.path, {
    method: "POST",
    credentials: "same-origin",
    signal: AbortSignal.timeout ? AbortSignal.timeout(SEND_TIMEOUT_MS) : undefined,
    headers: {
      "HX-Request": "true",
      "X-CSRF-Token": csrfToken(),
      "X-Page-Id": pageId(),
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams(item.params),
  });
  if (!final) return sent;
  return sent.then((response) => {
    if (!staleToken(response)) settle(item, response.ok);
    return response;
  });
}

function settle(item, ok) {
  if (ok) confirm(item.params.idempotency_key);
  else rollBack(item.params.idempotency_key);
}

// Tried again a little later, with backoff: the network may need a moment after 'online', or
// the server may be away while the browser is online.
function retryLater(atLeast = 0) {
  if (retryTimer) return;
  retryDelay = Math.min(30000, retryDelay ? retryDelay * 2 : 1000);
  // A 429 says how long to wait (Retry-After); never come back sooner than that.
  const wait = Math.max(retryDelay, Math.min(60000, atLeast));
  retryTimer = setTimeout(() => { retryTimer = null; replayQueue(); }, wait);
}

// The tabs of one browser share the queue. One tab at a time sends it, and a tab that waited
// finds it sent: a change goes out once, not once per open tab (its key would make the
// repeats harmless, not free). Without Web Locks (an insecure origin), each tab sends what
// it finds.
export function replayQueue() {
  // A change being sealed right now belongs to this replay too.
  return Promise.all([migrated, written()]).then(() => {
    if (!navigator.onLine || !queued().length) return undefined; // no need to queue up
    if (!navigator.locks) return replayHere();
    return navigator.locks.request("storefront-offline-queue", replayHere);
  });
}

// A queue an earlier version of the shop left in the clear is sealed (or dropped) on load.
const migrated = migratePlainQueue().catch(() => {}).then(() => showStatus());

async function replayHere() {
  if (replaying || !navigator.onLine || !queued().length) return;
  replaying = true;
  let unreadable = 0;
  try {
    while (queued().length) {
      const entry = queued()[0];
      const item = await open(entry);
      if (item === undefined) break; // this tab cannot open the queue: left for one that can
      if (!item) {
        // Sealed under a key this browser no longer has (its site data was partly cleared).
        unreadable += 1;
        forget(entry.id);
        continue;
      }
      let response;
      try {
        response = await send(item, false);
        // Signed in or out in another tab since the change was queued: a fresh token, once.
        if (staleToken(response)) { await resync(); response = await send(item, false); }
      } catch (e) {
        retryLater(); // still offline, or the server is away: try again later
        break;
      }
      if (response.status === 429 || response.status >= 500) {
        retryLater(Number(response.headers.get("Retry-After") || 0) * 1000);
        break;
      }
      retryDelay = 0;
      const html = await response.text();
      forget(entry.id);
      showStatus();
      if (response.ok) applyOutOfBand(html);
      settle(item, response.ok);
      if (!response.ok) say(html); // refused for good (out of stock, say): the refusal's notice
    }
    if (unreadable) {
      say(`<p class="notice error">${unreadable} ${unreadable === 1 ? "change" : "changes"} saved on this device could not be read any more and ${unreadable === 1 ? "was" : "were"} not sent. Please check your cart.</p>`);
    }
  } finally {
    replaying = false;
    showStatus();
    resync();
  }
}
