// A cart piece (it carries data-cart-version: a line, the summary, the badge, #cart-state)
// whose new version differs from what the page shows only in words and attribute values, a
// line's quantity and total say, is patched in place instead of swapped. A swap makes htmx
// clean up every element of the old piece and process every element of the new one, an event
// or two each: about 80 events for one added unit, most of the 12 ms another device's page took
// to show the change (bench/push.py, issue 10). Patched, the page ends up with the same markup,
// and the field being typed in keeps its focus and what is typed (typing.js).
//
// A pushed piece is the same for every session of the shopper, so it carries no CSRF field: the
// page's own stay where they are (pages without JavaScript post them; htmx sends a header).
//
// Anything else is swapped as before: another shape (a line gained a notice), a changed htmx
// attribute (htmx would have to process the element again), a select or a text area, and an
// element a pending change has marked (optimistic.js tells replaced elements by identity).
import { beingTyped, replaced } from "./typing.js";

// Runs after the version guard and typing.js (main.js adds it last).
export function onOobBeforeSwap(evt) {
  const detail = evt.detail;
  if (evt.defaultPrevented || !detail.shouldSwap) return;
  const target = detail.target;
  const fragment = detail.fragment;
  // An outerHTML swap hands over a fragment (11) holding the new element; other styles hand
  // over the element whose children go in.
  if (!target || !fragment || fragment.nodeType !== 11) return;
  const fresh = fragment.firstElementChild;
  if (!fresh || fresh !== fragment.lastElementChild || fragment.childNodes.length !== 1) return;
  if (!patchable(target, fresh)) return;
  patchInPlace(target, fresh);
  detail.shouldSwap = false;
}

// Whether ``fresh`` (a piece without its hx-swap-oob, as htmx hands it over) can be patched
// into ``target``, the element it replaces.
export function patchable(target, fresh) {
  return fresh.id === target.id && fresh.dataset.cartVersion !== undefined && sameShape(target, fresh);
}

export function patchInPlace(target, fresh) {
  patch(target, fresh, beingTyped());
}

const UNPATCHABLE = new Set(["SELECT", "TEXTAREA", "SCRIPT", "TEMPLATE", "IFRAME"]);

// hx-*, data-hx-*, ws-* and sse-* (the extensions'): checked by hand, as this runs for every
// attribute of every element of a piece.
function isHtmx(name) {
  const first = name.charCodeAt(0);
  if (first === 104) return name.startsWith("hx-"); // h
  if (first === 100) return name.startsWith("data-hx-"); // d
  if (first === 119) return name.startsWith("ws-"); // w
  return first === 115 && name.startsWith("sse-"); // s
}

function sameShape(old, fresh) {
  if (old.nodeType !== fresh.nodeType) return false;
  if (old.nodeType !== 1) return old.nodeType === 3 || old.nodeType === 8;
  if (old.tagName !== fresh.tagName || UNPATCHABLE.has(old.tagName)) return false;
  if (old.optimistic || old.pendingCounts) return false;
  if (!sameHtmx(old, fresh) || !sameHtmx(fresh, old)) return false;
  let a = kept(old.firstChild);
  let b = kept(fresh.firstChild);
  while (a && b) {
    if (!sameShape(a, b)) return false;
    a = kept(a.nextSibling);
    b = kept(b.nextSibling);
  }
  return a === null && b === null;
}

const isCsrfField = (node) => node.nodeType === 1 && node.tagName === "INPUT" && node.name === "csrf_token";

// The next node a patch compares (a CSRF field is neither compared nor touched).
function kept(node) {
  while (node && isCsrfField(node)) node = node.nextSibling;
  return node;
}

function sameHtmx(one, other) {
  const attrs = one.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const name = attrs[i].name;
    if (isHtmx(name) && other.getAttribute(name) !== attrs[i].value) return false;
  }
  return true;
}

function patch(old, fresh, typed) {
  if (old.nodeType !== 1) {
    if (old.nodeValue !== fresh.nodeValue) old.nodeValue = fresh.nodeValue;
    return;
  }
  const gone = old.attributes;
  for (let i = gone.length - 1; i >= 0; i--) {
    if (!fresh.hasAttribute(gone[i].name)) old.removeAttribute(gone[i].name);
  }
  const attrs = fresh.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const { name, value } = attrs[i];
    if (old.getAttribute(name) === value) continue;
    if (name === "class") patchClass(old, value);
    else old.setAttribute(name, value);
  }
  if (old.tagName === "INPUT") {
    // An attribute sets only the default of a field already edited: the shown value and state
    // follow the server's, except in the field being typed in.
    if (old !== typed) {
      if (old.value !== fresh.value) old.value = fresh.value;
      replaced(old);
    }
    if (old.checked !== fresh.checked) old.checked = fresh.checked;
  }
  let a = kept(old.firstChild);
  let b = kept(fresh.firstChild);
  while (a) {
    patch(a, b, typed);
    a = kept(a.nextSibling);
    b = kept(b.nextSibling);
  }
}

// htmx's own classes (htmx-request while a form's request is out) stay: htmx removes them.
function patchClass(old, value) {
  const kept = Array.from(old.classList).filter((name) => name.startsWith("htmx-"));
  old.setAttribute("class", kept.length ? `${value} ${kept.join(" ")}` : value);
}
