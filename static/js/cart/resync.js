// Fetch the whole cart once when this page may have missed something (a gap in versions, a
// reconnect, focus, coming back online, "Sync now"). Concurrent callers share the one request,
// which resolves to whether the server answered.
import { pageId, setCsrfToken, shown, stateIn } from "./page.js";
import { syncUrl } from "./routes.js";
import { listenAsThisPage } from "./socket.js";
import { markSynced } from "./sync-controls.js";
import { applyWholeCart } from "./version-guard.js";

let running = null;

export function resync() {
  if (running) return running;
  const now = shown();
  running = fetch(syncUrl(now.version, now.cart), {
    headers: { "HX-Request": "true", "X-Page-Id": pageId() },
    credentials: "same-origin",
  })
    .then((response) => {
      // The session may have changed under this page (another tab signed in or out).
      setCsrfToken(response.headers.get("X-CSRF-Token"));
      if (response.status !== 200 && response.status !== 204) return null;
      markSynced();
      return response.status === 200 ? response.text() : "";
    })
    .then((html) => {
      if (!html) return html !== null;
      const state = stateIn(html);
      const current = shown();
      // The same cart, and older than what arrived while we asked: keep the newer.
      if (state && state.dataset.cartId === current.cart && Number(state.dataset.cartVersion) < current.version) return true;
      applyWholeCart(html);
      return true;
    })
    .catch(() => false)
    .finally(() => { running = null; listenAsThisPage(); });
  return running;
}
