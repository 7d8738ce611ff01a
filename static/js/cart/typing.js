// A quantity the shopper is typing stays theirs until they send it. A pushed change, a resync
// or a catalog refresh replaces the whole line, field included: without this the server's
// value came back under their fingers (typed 4, Enter, and the cart said 1; seen after a
// reconnect, whose catalog refresh landed mid-typing), and the focus was lost (the ws
// extension's swaps do not keep it). So the field being typed in is put back into the new line,
// the very element (its caret too), with the server's value as its default; the new line's
// hidden version goes with the change when it is sent. A field whose value was just sent is
// not kept: the answer says what the server made of it (a quantity clamped to stock).
const sent = new WeakMap(); // field -> the value it last sent
let kept = null; // {field, target} held over one out-of-band swap

const isQuantity = (el) => el && el.tagName === "INPUT" && el.dataset.testid === "line-quantity";

// The quantity field the shopper is typing in and has not sent, if any.
export function beingTyped() {
  const field = document.activeElement;
  if (!isQuantity(field) || !field.id) return null;
  if (field.value === field.defaultValue || field.value === sent.get(field)) return null;
  return field;
}

export function onBeforeRequest(evt) {
  const form = evt.detail.elt;
  if (!form || !form.matches || !form.matches("form.line-quantity")) return; // not "keep mine"
  const field = form.querySelector('[data-testid="line-quantity"]');
  if (isQuantity(field)) sent.set(field, field.value);
}

// A field patched with the server's value (patch.js) is as good as a new one: what it sent
// before is no longer news.
export function replaced(field) {
  sent.delete(field);
}

export function onOobBeforeSwap(evt) {
  const field = beingTyped();
  const target = evt.detail.target;
  kept = field && target && target.contains(field) ? { field, target } : null;
}

export function onOobAfterSwap(evt) {
  const was = kept;
  kept = null;
  if (!was || was.target !== evt.detail.target || was.field.isConnected) return;
  const fresh = document.getElementById(was.field.id);
  if (!isQuantity(fresh)) return;
  was.field.defaultValue = fresh.defaultValue; // the server's value; what is typed stays shown
  was.field.max = fresh.max;
  fresh.replaceWith(was.field);
  was.field.focus({ preventScroll: true });
}
