// Never show an older cart than the page shows, and never let htmx look for elements the
// page lacks. Every piece of a cart change carries data-cart-version; #cart-state says which
// version the page shows, and it moves last, once every piece of a change is in.
import { pageId, parse, shown, startTags } from "./page.js";

let wholeCart = false; // a resync's answer is the whole cart: it replaces, whatever it says

export function onOobBeforeSwap(evt) {
  const fragment = evt.detail.fragment;
  const el = fragment && fragment.nodeType === 11 ? fragment.firstElementChild : fragment;
  if (!el || !el.dataset) return;
  if (refused(evt.detail.target, el)) evt.preventDefault();
}

// Whether a piece must stay out of its target: it is no newer than what the page shows, or it
// is the notice of this page's own change ("on another device" is not news to the page that
// did it). Only the notice: #cart-state names its origin too, and the page that made the
// change must still move to the version it produced.
export function refused(target, el) {
  if (target && target.id === "notice" && el.dataset.originPage && el.dataset.originPage === pageId()) return true;
  if (wholeCart || el.dataset.cartVersion === undefined) return false;
  return Number(el.dataset.cartVersion) <= shown().version;
}

// Where a pushed event stands against what the page shows (its #cart-state element):
// "elsewhere" (another cart), "old" (already shown), "gap" (events were missed) or "next".
export function place(state) {
  const now = shown();
  const version = Number(state.dataset.cartVersion);
  if (now.cart && state.dataset.cartId !== now.cart) return "elsewhere";
  if (version <= now.version) return "old";
  if (version > now.version + 1) return "gap";
  return "next";
}

// Pieces aimed at parts this page does not have (line rows on a product page) are dropped
// before htmx looks for their targets. Used as the cart-sync extension's transformResponse.
export function onlyPresentTargets(text) {
  if (text.indexOf("hx-swap-oob") < 0) return text;
  // Most answers aim only at parts the page has: then the text goes to htmx as it is, unparsed.
  const aimed = startTags(text, "hx-swap-oob").filter((attrs) => "hx-swap-oob" in attrs);
  if (aimed.every((attrs) => !mustDrop(attrs["hx-swap-oob"], attrs.id))) return text;
  const content = parse(text);
  let dropped = false;
  content.querySelectorAll("[hx-swap-oob]").forEach((el) => {
    if (mustDrop(el.getAttribute("hx-swap-oob"), el.id)) { el.remove(); dropped = true; }
  });
  if (!dropped) return text;
  const holder = document.createElement("div");
  holder.appendChild(content);
  return holder.innerHTML;
}

function mustDrop(value, id) {
  const selector = value.indexOf(":") > 0 ? value.slice(value.indexOf(":") + 1) : id && `#${CSS.escape(id)}`;
  // New lines go last; while the page has not loaded its last rows yet they come with them.
  const notLoadedYet = value === "beforeend:#cart-lines" && document.getElementById("more-lines");
  return Boolean((selector && !document.querySelector(selector)) || notLoadedYet);
}

export function applyOutOfBand(html) {
  htmx.swap(document.body, onlyPresentTargets(html), { swapStyle: "none" });
}

export function applyWholeCart(html) {
  wholeCart = true;
  try { applyOutOfBand(html); } finally { wholeCart = false; }
}
