// The checkout form re-prices itself on every change: htmx posts it and swaps the whole form
// (#checkout-body) for the answer. What the shopper does while that answer is on its way must
// survive the swap: the field they are in stays the very same element (focus, caret, a select's
// type-ahead), a field they changed meanwhile keeps its new value and is priced again, the
// payment part is outside the swapped form altogether (templates/checkout/_pay.html), and the
// focus stays where it was (also on a radio button or a button, which have no id for htmx to
// restore it by).
const BODY = "checkout-body";
const FORM = "checkout-form";
const KEPT_NODE = /^(text|email|tel|search|url|number|password|select-one|textarea)$/;

const sentBy = new WeakMap(); // xhr -> the form's values when it left
let before = null; // {sent, values, focused} just before the swap
let reprice = false; // the swapped-in form must be priced again

const aimsAtBody = (evt) => evt.detail.target && evt.detail.target.id === BODY;

// name -> value: what the shopper can change (a radio group: the checked value, or null).
function values(form) {
  const out = new Map();
  for (const el of form.elements) {
    if (!el.name || el.type === "hidden" || el.type === "submit" || el.type === "button") continue;
    if (!form.contains(el)) continue; // the payment part (form="checkout-form"): never swapped
    if (el.type === "radio" || el.type === "checkbox") {
      if (el.checked) out.set(el.name, el.value);
      else if (!out.has(el.name)) out.set(el.name, null);
    } else {
      out.set(el.name, el.value);
    }
  }
  return out;
}

function setValue(form, name, value) {
  for (const el of form.elements) {
    if (el.name !== name) continue;
    if (el.type === "radio" || el.type === "checkbox") el.checked = value !== null && el.value === value;
    else el.value = value;
  }
}

// The element of the new form that stands for `old` (by id, else a radio's name and value, else
// its test id), or null.
function counterpart(form, old) {
  if (old.id) return document.getElementById(old.id);
  const esc = (s) => CSS.escape(s);
  if (old.name && (old.type === "radio" || old.type === "checkbox")) {
    return form.querySelector(`[name="${esc(old.name)}"][value="${esc(old.value)}"]`);
  }
  const testId = old.dataset && old.dataset.testid;
  return testId ? form.querySelector(`[data-testid="${esc(testId)}"]`) : null;
}

export function onBeforeRequest(evt) {
  const form = evt.detail.elt;
  if (!aimsAtBody(evt) || !form || form.id !== FORM || !evt.detail.xhr) return;
  sentBy.set(evt.detail.xhr, values(form));
}

const SERVER_SAYS = ["aria-invalid", "aria-describedby", "aria-required"];

function copyServerSays(from, to) {
  for (const name of SERVER_SAYS) {
    if (from.hasAttribute(name)) to.setAttribute(name, from.getAttribute(name));
    else to.removeAttribute(name);
  }
}

export function onBeforeSwap(evt) {
  before = null;
  const form = document.getElementById(FORM);
  if (!aimsAtBody(evt) || !form || !evt.detail.shouldSwap) return;
  const focused = document.activeElement;
  before = {
    sent: sentBy.get(evt.detail.xhr),
    values: values(form),
    focused: focused && form.contains(focused) ? focused : null,
  };
  // The field being typed in is kept, the very element (hx-preserve: htmx moves it into the
  // new form with moveBefore, which keeps its focus, caret and a select's type-ahead); what the
  // server says about it (invalid, and where it says why) goes onto it.
  const old = before.focused;
  if (!old || !old.id || !KEPT_NODE.test(old.type) || !("moveBefore" in Element.prototype)) return;
  const tpl = document.createElement("template");
  tpl.innerHTML = evt.detail.serverResponse;
  const fresh = tpl.content.getElementById(old.id);
  if (!fresh || fresh.type !== old.type) return;
  copyServerSays(fresh, old);
  fresh.setAttribute("hx-preserve", "");
  evt.detail.serverResponse = tpl.innerHTML;
}

export function onAfterSwap(evt) {
  const was = before;
  before = null;
  const form = document.getElementById(FORM);
  if (!was || !aimsAtBody(evt) || !form) return;
  let changed = false;
  // What the shopper changed while the answer was on its way is carried over, and priced.
  for (const [name, value] of was.values) {
    if (was.sent && was.sent.get(name) !== value) {
      changed = true;
      setValue(form, name, value);
    }
  }
  const old = was.focused;
  if (old && !old.isConnected) {
    // Not kept (a radio button, a button; or no moveBefore): its counterpart takes the focus,
    // or, for a field being typed in, the field itself goes back in.
    const fresh = counterpart(form, old);
    if (fresh && fresh.type === old.type && KEPT_NODE.test(old.type)) {
      copyServerSays(fresh, old);
      fresh.replaceWith(old);
      old.focus({ preventScroll: true });
    } else if (fresh) {
      fresh.focus({ preventScroll: true });
    }
  }
  reprice = changed;
}

// Price what the shopper changed meanwhile, once htmx has wired up the new form.
export function onAfterSettle(evt) {
  const form = document.getElementById(FORM);
  if (!reprice || !aimsAtBody(evt) || !form) return;
  reprice = false;
  htmx.trigger(form, "change");
}
