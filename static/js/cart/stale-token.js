// A change refused for a stale CSRF token (signed in or out in another tab): fetch a fresh
// token, then send the same change once more, under the same key. Sent by hand: the form may
// be gone by then (resync redraws the lines), and its hidden token field is the stale one.
import { itemOf, keep, send } from "./offline-queue.js";
import { say } from "./page.js";
import { resync } from "./resync.js";
import { applyOutOfBand } from "./version-guard.js";

// The server names every refusal in X-Error-Code; its words are for people and may change.
const CSRF_FAILED = "csrf_failed";

export function onBeforeSwap(evt) {
  const xhr = evt.detail.xhr;
  const cfg = evt.detail.requestConfig;
  if (!xhr || !cfg || xhr.status !== 403 || xhr.getResponseHeader("X-Error-Code") !== CSRF_FAILED) return;
  evt.detail.shouldSwap = false;
  const item = itemOf(cfg);
  resync()
    .then(() => send(item))
    .then(
      (response) => response.text().then((html) => (response.ok ? applyOutOfBand(html) : say(html))),
      () => keep(item), // the network failed: queue it, under the same key
    )
    .catch(() => {});
}
