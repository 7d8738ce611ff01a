// Changes that could not be sent wait in the queue and are replayed in order, each under its
// own idempotency key: a change that did reach the server before the connection dropped is
// answered with its first result, never applied twice.
import { csrfToken, newKey, pageId, say } from "./page.js";
import { append, forget, queued } from "./queue-store.js";
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
  append(item);
  showStatus();
  if (navigator.onLine) retryLater(); // it failed while online: the server may be away
  say('<p class="notice">You are offline. The change is saved on this device and will be sent when the connection returns.</p>');
}

export function send(item) {
  return fetch(item.path, {
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
  if (!navigator.onLine || !queued().length) return Promise.resolve(); // no need to queue up
  if (!navigator.locks) return replayHere();
  return navigator.locks.request("storefront-offline-queue", replayHere);
}

const staleToken = (response) => response.status === 403 && response.headers.get("X-Error-Code") === "csrf_failed";

async function replayHere() {
  if (replaying || !navigator.onLine || !queued().length) return;
  replaying = true;
  try {
    while (queued().length) {
      const item = queued()[0];
      let response;
      try {
        response = await send(item);
        // Signed in or out in another tab since the change was queued: a fresh token, once.
        if (staleToken(response)) { await resync(); response = await send(item); }
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
      forget(item.params.idempotency_key);
      showStatus();
      if (response.ok) applyOutOfBand(html);
      else say(html); // refused for good (out of stock, say): the refusal's notice
    }
  } finally {
    replaying = false;
    showStatus();
    resync();
  }
}
