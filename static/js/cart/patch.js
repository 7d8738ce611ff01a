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
  const apply = patcher(target, fresh);
  if (!apply) return;
  apply();
  detail.shouldSwap = false;
}

// What brings ``target`` to ``fresh`` (a piece without its hx-swap-oob, as htmx hands it
// over), as a function to call, or null when ``fresh`` cannot be patched in. One walk over
// both trees finds out and notes the differences: the same walk twice (once to compare, once
// to patch) was a third of a pushed change's time in the page.
export function patcher(target, fresh) {
  if (fresh.id !== target.id || fresh.dataset.cartVersion === undefined) return null;
  const edits = [];
  if (!compare(target, fresh, beingTyped(), edits)) return null;
  return () => edits.forEach(apply);
}

const UNPATCHABLE = new Set(["SELECT", "TEXTAREA", "SCRIPT", "TEMPLATE", "IFRAME"]);
// An edit: [TEXT, text node, its new text], [REMOVE, element, attribute name], [SET or CLASS,
// element, attribute name, value], [FIELD, input, the fresh input, the field being typed in].
const TEXT = 0, REMOVE = 1, SET = 2, CLASS = 3, FIELD = 4;

// hx-*, data-hx-*, ws-* and sse-* (the extensions'): checked by hand, as this runs for every
// attribute of every element of a piece.
export function isHtmx(name) {
  const first = name.charCodeAt(0);
  if (first === 104) return name.startsWith("hx-"); // h
  if (first === 100) return name.startsWith("data-hx-"); // d
  if (first === 119) return name.startsWith("ws-"); // w
  return first === 115 && name.startsWith("sse-"); // s
}

// Whether ``old`` and ``fresh`` have the same shape (the same elements, text and comment nodes
// in the same places, the same htmx attributes), noting in ``edits`` what differs otherwise.
function compare(old, fresh, typed, edits) {
  if (old.nodeType !== fresh.nodeType) return false;
  if (old.nodeType !== 1) {
    if (old.nodeType !== 3 && old.nodeType !== 8) return false;
    if (old.nodeValue !== fresh.nodeValue) edits.push([TEXT, old, fresh.nodeValue]);
    return true;
  }
  if (old.tagName !== fresh.tagName || UNPATCHABLE.has(old.tagName)) return false;
  if (old.optimistic || old.pendingCounts) return false;
  const gone = old.attributes;
  for (let i = 0; i < gone.length; i++) {
    const name = gone[i].name;
    if (fresh.hasAttribute(name)) continue;
    if (isHtmx(name)) return false;
    edits.push([REMOVE, old, name]);
  }
  const attrs = fresh.attributes;
  for (let i = 0; i < attrs.length; i++) {
    const { name, value } = attrs[i];
    if (old.getAttribute(name) === value) continue;
    if (isHtmx(name)) return false; // htmx would have to process the element again
    edits.push([name === "class" ? CLASS : SET, old, name, value]);
  }
  // After its attributes: an attribute sets only the default of a field already edited.
  if (old.tagName === "INPUT") edits.push([FIELD, old, fresh, typed]);
  let a = kept(old.firstChild);
  let b = kept(fresh.firstChild);
  while (a && b) {
    if (!compare(a, b, typed, edits)) return false;
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

function apply([kind, node, first, second]) {
  if (kind === TEXT) node.nodeValue = first;
  else if (kind === REMOVE) node.removeAttribute(first);
  else if (kind === SET) node.setAttribute(first, second);
  else if (kind === CLASS) patchClass(node, second);
  else patchField(node, first, second);
}

// The shown value and state follow the server's, except in the field being typed in.
function patchField(old, fresh, typed) {
  if (old !== typed) {
    if (old.value !== fresh.value) old.value = fresh.value;
    replaced(old);
  }
  if (old.checked !== fresh.checked) old.checked = fresh.checked;
}

// htmx's own classes (htmx-request while a form's request is out) stay: htmx removes them.
function patchClass(old, value) {
  const kept = Array.from(old.classList).filter((name) => name.startsWith("htmx-"));
  old.setAttribute("class", kept.length ? `${value} ${kept.join(" ")}` : value);
}
