// Live cart sync: what htmx alone cannot do, wired to htmx's events. Each module does one job:
//   version-guard   never swap in an older cart; drop pieces aimed at elements the page lacks
//   pushes          the socket's messages: control messages, gaps, events for another cart
//   catalog         a product's new price and stock on the pages that show it, and in the cart
//   resync          the whole cart once, when this page may have missed something
//   outgoing        headers, keys and versions on every change; what its answer tells us
//   optimistic      a change shown at once, marked pending; put back if the server refuses it
//   offline-queue   changes kept while offline (sealed by queue-store), replayed in order
//   stale-token     a change refused for a stale CSRF token, sent again with a fresh one
//   conflicts       "keep mine" when another device overrode this page's quantity
//   socket, status  the connection and the indicator that shows it
//   fallback        the same feed over Server-Sent Events or long polls, where sockets are blocked
//   sync-controls   "Sync now", and when the page last synced, in words
//   add-form        the add form's quantity after a burst of adds
//   checkout-form   what the shopper typed or chose while the checkout was being re-priced
//   typing          a quantity being typed survives its line being replaced meanwhile
//   patch           a cart piece that changed only in words and values is patched, not swapped
//   in-place        a pushed change made only of such pieces is patched without htmx at all
// Loaded as a module after htmx and its ws extension (deferred scripts and modules run in
// document order), and before DOMContentLoaded, when htmx starts processing the page.
import * as addForm from "./add-form.js";
import * as checkoutForm from "./checkout-form.js";
import { onKeepMine, tell } from "./conflicts.js";
import { replayQueue } from "./offline-queue.js";
import { onBeforeRequest, onConfigRequest } from "./outgoing.js";
import * as patch from "./patch.js";
import { onMessage } from "./pushes.js";
import { isQueueEvent } from "./queue-store.js";
import { resync } from "./resync.js";
import * as socket from "./socket.js";
import { onBeforeSwap } from "./stale-token.js";
import { showStatus } from "./status.js";
import { initSyncControls } from "./sync-controls.js";
import * as typing from "./typing.js";
import { onlyPresentTargets, onOobBeforeSwap } from "./version-guard.js";

htmx.defineExtension("cart-sync", { transformResponse: (text) => onlyPresentTargets(text) });
socket.watchSockets(); // before htmx opens the page's socket, at DOMContentLoaded

document.addEventListener("htmx:oobBeforeSwap", onOobBeforeSwap);
document.addEventListener("htmx:oobBeforeSwap", typing.onOobBeforeSwap);
document.addEventListener("htmx:oobBeforeSwap", patch.onOobBeforeSwap); // last: after both
document.addEventListener("htmx:oobAfterSwap", typing.onOobAfterSwap);
document.addEventListener("htmx:beforeRequest", typing.onBeforeRequest);
document.addEventListener("htmx:wsBeforeMessage", onMessage);
document.addEventListener("htmx:wsAfterMessage", tell);
document.addEventListener("click", onKeepMine);

document.addEventListener("htmx:configRequest", onConfigRequest);
document.addEventListener("htmx:beforeRequest", onBeforeRequest);
document.addEventListener("htmx:beforeSwap", onBeforeSwap);
document.addEventListener("htmx:beforeSend", addForm.onBeforeSend);
document.addEventListener("htmx:afterRequest", addForm.onAfterRequest);
document.addEventListener("htmx:beforeRequest", checkoutForm.onBeforeRequest);
document.addEventListener("htmx:beforeSwap", checkoutForm.onBeforeSwap);
document.addEventListener("htmx:afterSwap", checkoutForm.onAfterSwap);
document.addEventListener("htmx:afterSettle", checkoutForm.onAfterSettle);

document.addEventListener("htmx:wsConnecting", socket.onConnecting);
document.addEventListener("htmx:wsOpen", socket.onOpen);
document.addEventListener("htmx:wsClose", socket.onClose);
window.addEventListener("offline", () => showStatus("offline"));
// Every tab shows the same count: another tab's queued or sent change updates this one too.
window.addEventListener("storage", (evt) => { if (isQueueEvent(evt)) showStatus(); });
window.addEventListener("online", () => {
  socket.showConnection();
  socket.wakeFallback(); // its retries may have backed off to half a minute while offline
  replayQueue().then(resync);
});
window.addEventListener("focus", () => resync());
document.addEventListener("visibilitychange", () => { if (!document.hidden) resync(); });
document.addEventListener("DOMContentLoaded", () => {
  showStatus(navigator.onLine ? "connecting" : "offline");
  initSyncControls();
  replayQueue();
});
