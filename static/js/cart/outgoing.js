// Every change this page sends through htmx: the headers and fields the server needs, the
// offline queue when there is no connection, the change shown at once (optimistic), and what
// its answer tells us.
import { rememberWrite } from "./conflicts.js";
import { itemOf, keep } from "./offline-queue.js";
import { begin, confirm, rollBack } from "./optimistic.js";
import { csrfToken, newKey, pageId, say, shown } from "./page.js";
import { resync } from "./resync.js";

export function onConfigRequest(evt) {
  const d = evt.detail;
  d.headers["X-CSRF-Token"] = csrfToken();
  d.headers["X-Page-Id"] = pageId();
  if (d.verb === "get") return;
  // The header carries the token (kept fresh by resync); a form's hidden copy may be stale.
  if (d.formData) d.formData.delete("csrf_token");
  delete d.parameters.csrf_token;
  // Every change gets its own key (a form's rendered key may have been used already), and the
  // version this page shows, so the server can tell what this page had seen.
  const key = newKey();
  const version = String(shown().version);
  if (d.formData) { d.formData.set("idempotency_key", key); d.formData.set("version", version); }
  d.parameters.idempotency_key = key;
  d.parameters.version = version;
}

export function onBeforeRequest(evt) {
  const cfg = evt.detail.requestConfig;
  const xhr = evt.detail.xhr;
  if (!cfg || cfg.verb === "get") return;
  const key = keyOf(cfg);
  if (!navigator.onLine) {
    evt.preventDefault();
    begin(key, evt.detail.elt, cfg.formData);
    keep(itemOf(cfg));
    return;
  }
  begin(key, evt.detail.elt, cfg.formData);
  // Listen on the request itself, not on the document: the push of this very change often
  // replaces the form that sent it before the answer arrives, and events htmx fires on a
  // detached form never reach the document.
  if (!xhr) return;
  const sentAt = Number(cfg.formData ? cfg.formData.get("version") : shown().version);
  xhr.addEventListener("load", () => answered(cfg, xhr, sentAt, key));
  // A request that may or may not have reached the server is queued under the same key:
  // replaying it can never apply it twice (and its pending mark stays, saying it waits).
  xhr.addEventListener("error", () => keep(itemOf(cfg)));
  xhr.addEventListener("abort", () => rollBack(key));
  xhr.addEventListener("timeout", () => rollBack(key));
}

const keyOf = (cfg) => (cfg.formData ? cfg.formData.get("idempotency_key") : cfg.parameters && cfg.parameters.idempotency_key);

// Runs after htmx has swapped the answer in (its own load handler was set first).
function answered(cfg, xhr, sentAt, key) {
  if (xhr.status < 200 || xhr.status > 299) {
    // A stale token: stale-token.js sends it again, and that answer settles it.
    if (xhr.status === 403 && xhr.getResponseHeader("X-Error-Code") === "csrf_failed") return;
    // htmx has put a 4xx's reason in the notice region; a 5xx has no words htmx would show.
    // (It may have failed after the commit: the rollback asks the server what it holds.)
    if (xhr.status >= 500) say('<p class="notice error">The shop could not confirm that change just now. Your cart shows what the shop holds; please try again.</p>');
    rollBack(key);
    return;
  }
  confirm(key);
  const version = Number(xhr.getResponseHeader("X-Cart-Version"));
  if (cfg.formData) rememberWrite(cfg.path, Number(cfg.formData.get("quantity")), version);
  if (version > sentAt + 1) resync(); // our change landed after others we may not have seen
}
