// Every change this page sends through htmx: the headers and fields the server needs, the
// offline queue when there is no connection, and what its answer tells us.
import { rememberWrite } from "./conflicts.js";
import { itemOf, keep } from "./offline-queue.js";
import { csrfToken, newKey, pageId, shown } from "./page.js";
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
  if (!navigator.onLine) {
    evt.preventDefault();
    keep(itemOf(cfg));
    return;
  }
  // Listen on the request itself, not on the document: the push of this very change often
  // replaces the form that sent it before the answer arrives, and events htmx fires on a
  // detached form never reach the document.
  if (!xhr) return;
  const sentAt = Number(cfg.formData ? cfg.formData.get("version") : shown().version);
  xhr.addEventListener("load", () => answered(cfg, xhr, sentAt));
  // A request that may or may not have reached the server is queued under the same key:
  // replaying it can never apply it twice.
  xhr.addEventListener("error", () => keep(itemOf(cfg)));
}

function answered(cfg, xhr, sentAt) {
  if (xhr.status < 200 || xhr.status > 299) return;
  const version = Number(xhr.getResponseHeader("X-Cart-Version"));
  if (cfg.formData) rememberWrite(cfg.path, Number(cfg.formData.get("quantity")), version);
  if (version > sentAt + 1) resync(); // our change landed after others we may not have seen
}
