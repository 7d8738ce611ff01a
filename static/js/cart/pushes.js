// What the socket pushes: control messages (hello, resync, catalog changes) handled here, cart
// events applied only when they are the next version of the cart this page shows: patched in
// place (in-place.js) or, when they cannot be, let through to htmx.
import { onCatalogChanges, onHello } from "./catalog.js";
import { inspect, tell } from "./conflicts.js";
import { applyInPlace } from "./in-place.js";
import { replayQueue } from "./offline-queue.js";
import { pageId, parse, say, shown, stateIn } from "./page.js";
import { resync } from "./resync.js";
import { heard } from "./socket.js";
import { place } from "./version-guard.js";

export function onMessage(evt) {
  const message = evt.detail.message;
  if (message.indexOf("data-control") >= 0) {
    const content = parse(message);
    const control = content.querySelector("template[data-control]");
    if (control) {
      evt.preventDefault();
      handleControl(control, content);
      return;
    }
  }
  const state = stateIn(message);
  if (!state) return;
  heard(state.dataset.cartId);
  const where = place(state);
  if (where === "next") {
    inspect(state);
    // Patched here, or left to htmx (whose wsAfterMessage then tells of a conflict).
    if (applyInPlace(message)) {
      evt.preventDefault();
      tell();
    }
    return;
  }
  evt.preventDefault();
  if (where !== "old") resync(); // another cart, or a gap: the whole cart, once
}

function handleControl(control, content) {
  const kind = control.dataset.control;
  if (kind === "hello") {
    heard(control.dataset.cartId);
    const now = shown();
    const same = control.dataset.cartId === now.cart && Number(control.dataset.cartVersion) === now.version;
    if (!same) resync();
    onHello(same);
    replayQueue();
  } else if (kind === "catalog") {
    onCatalogChanges(content.querySelectorAll('template[data-control="catalog"]'));
  } else if (kind === "resync") {
    const notice = content.querySelector("#notice");
    if (notice && notice.dataset.originPage !== pageId()) say(notice.innerHTML);
    resync();
  }
}
