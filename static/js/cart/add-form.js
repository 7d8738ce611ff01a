// The add form stays in place (its answer carries only out-of-band pieces), so the shopper's
// chosen options stay. Its quantity goes back to its default once the adds have gone through,
// as it did when the whole form was re-rendered; not before, so that a second quick click,
// which htmx queues behind the first (hx-sync), adds the same quantity the shopper chose.

const sending = new WeakSet();
const resets = (form) => form && form.hasAttribute && form.hasAttribute("data-reset-quantity");

export function onBeforeSend(evt) {
  if (resets(evt.detail.elt)) sending.add(evt.detail.elt);
}

export function onAfterRequest(evt) {
  const form = evt.detail.elt;
  if (!resets(form)) return;
  sending.delete(form);
  if (!evt.detail.successful) return; // a refusal: the shopper corrects the quantity
  // htmx issues a queued request right after this event, in the same task: wait for that.
  queueMicrotask(() => {
    if (sending.has(form)) return;
    const quantity = form.elements.namedItem("quantity");
    if (quantity) quantity.value = quantity.defaultValue;
  });
}
