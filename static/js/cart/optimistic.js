// What a change shows at once on the page that made it, before the server has answered: the
// new quantity, the badge's new count, a line on its way out, each marked as pending in looks
// (.pending) and in words ("Saving…", aria-busy). The server's answer replaces the marked
// elements with what it holds (confirmed); a refusal puts back what they showed before, and
// the refusal's words are in the notice region (htmx puts them there). Other devices hear of a
// change only once it is committed, as before.
//
// Amounts are not guessed: a pending line's total and the subtotal keep the last confirmed
// figures, marked "Updating…", until the answer brings the server's. The server formats money
// with Babel for the shop's locale; the browser's Intl data can differ from it (a space, a
// currency symbol), and shipping and tax in the estimate follow rules only the server knows. A
// count is a plain number, so the badge moves at once.
import { resync } from "./resync.js";

const WORDS = { saving: "Saving…", removing: "Removing…", waiting: "Saved on this device, waiting to be sent" };
const changes = new Map(); // idempotency key -> {marks: [{settle(ok), wait()}]}

const whole = (text, max) => (/^\d{1,7}$/.test(String(text)) && Number(text) <= max ? Number(text) : null);
const lineOf = (form) => form.closest('[data-testid="cart-line"]');
const quantityIn = (line) => line.querySelector('[data-testid="line-quantity"]');
const countIn = (text) => Number(text) || 0;

// Called as a change leaves (or is queued): shows it, and remembers how to undo it.
export function begin(key, form, formData) {
  if (!key || !form || !form.matches || changes.has(key)) return;
  const marks = [];
  if (form.matches("form.line-quantity")) {
    const line = lineOf(form);
    const input = line && quantityIn(line);
    const quantity = input && formData && whole(formData.get("quantity"), Number(input.max) || 1e7);
    if (quantity === null || !input) return; // the server says what is wrong with it
    const before = countIn(input.defaultValue);
    const removing = quantity === 0;
    marks.push(markLine(key, line, removing ? "removing" : "saving"), markBadge(key, quantity - before), markSummary(key));
  } else if (form.matches("form.line-remove")) {
    const line = lineOf(form);
    const input = line && quantityIn(line);
    if (!line) return;
    marks.push(markLine(key, line, "removing"), markBadge(key, -countIn(input && input.defaultValue)), markSummary(key));
  } else if (form.matches("form.add-form")) {
    const quantity = formData && whole(formData.get("quantity"), 1e7);
    if (!quantity) return;
    marks.push(markBadge(key, quantity));
  } else if (form.matches("form.clear-cart")) {
    document.querySelectorAll('[data-testid="cart-line"]').forEach((line) => marks.push(markLine(key, line, "removing")));
    const badge = document.getElementById("cart-count");
    marks.push(markBadge(key, -countIn(badge && badge.textContent)), markSummary(key));
  } else {
    return;
  }
  const live = marks.filter(Boolean);
  if (!live.length) return;
  changes.set(key, { marks: live });
}

// The server took the change: its answer has replaced what was marked (or will, in order);
// whatever still carries this change's mark keeps its new look, unmarked.
export function confirm(key) {
  settle(key, true);
}

// The server refused the change (or it could not be sent and will not be): what it changed
// goes back, then the page asks for the cart as the server holds it (a line deleted on another
// device meanwhile, a quantity clamped), once.
export function rollBack(key) {
  if (settle(key, false)) resync();
}

// The change is queued on this device for later: say so where it is shown.
export function waiting(key) {
  const change = changes.get(key);
  if (change) change.marks.forEach((mark) => mark.wait());
}

function settle(key, ok) {
  const change = changes.get(key);
  if (!change) return false;
  changes.delete(key);
  change.marks.forEach((mark) => mark.settle(ok));
  return true;
}

// An element may carry the marks of several changes at once (a quantity typed twice, quickly):
// it looks pending until the last of them is settled. An element htmx replaced meanwhile is
// the server's truth and is left alone.
function busy(el, key, words, noteHolder) {
  if (!el.optimistic) el.optimistic = new Set();
  el.optimistic.add(key);
  el.setAttribute("aria-busy", "true");
  el.classList.add("pending");
  let note = el.querySelector(":scope .pending-note");
  if (noteHolder && !note) {
    note = document.createElement("span");
    note.className = "pending-note";
    note.dataset.testid = "pending-note";
    noteHolder.append(note);
  }
  if (note) note.textContent = WORDS[words];
  return {
    note: () => note,
    // true when this was the element's last pending change
    release() {
      if (!el.isConnected || !el.optimistic || !el.optimistic.delete(key)) return false;
      if (el.optimistic.size) return false;
      el.optimistic = null;
      el.removeAttribute("aria-busy");
      el.classList.remove("pending", "pending-removal");
      if (note) note.remove();
      return true;
    },
  };
}

function markLine(key, line, words) {
  const holder = line.querySelector(".line-info") || line;
  const input = quantityIn(line);
  const shown = input ? input.value : "";
  const mark = busy(line, key, words, holder);
  if (words === "removing") line.classList.add("pending-removal");
  return {
    settle(ok) {
      const last = mark.release();
      // Put back what the server holds (the value it rendered), unless the shopper has typed
      // another quantity since, which is on its way and will be answered for itself.
      if (!ok && last && input && input.value === shown) input.value = input.defaultValue;
    },
    wait() { if (mark.note()) mark.note().textContent = WORDS.waiting; },
  };
}

function markSummary(key) {
  const summary = document.getElementById("cart-summary");
  const amount = document.querySelector('[data-testid="cart-subtotal"]');
  if (!summary || !amount) return null;
  const mark = busy(summary, key, "saving", amount.parentElement);
  mark.note().textContent = "Updating…";
  return { settle: () => mark.release(), wait() {} };
}

const itemsInWords = (count) => `${count} ${count === 1 ? "item" : "items"} in your cart`;

// The badge: the last confirmed count plus every pending change's difference.
function markBadge(key, delta) {
  const el = document.getElementById("cart-count");
  if (!el || !delta) return null;
  if (!el.pendingCounts) el.pendingCounts = { confirmed: countIn(el.textContent), deltas: new Map() };
  el.pendingCounts.deltas.set(key, delta);
  showBadge(el);
  return {
    settle(ok) {
      const counts = el.pendingCounts;
      if (!el.isConnected || !counts || !counts.deltas.has(key)) return;
      if (ok) counts.confirmed += counts.deltas.get(key);
      counts.deltas.delete(key);
      showBadge(el);
    },
    wait() {},
  };
}

function showBadge(el) {
  const counts = el.pendingCounts;
  let count = counts.confirmed;
  counts.deltas.forEach((delta) => { count += delta; });
  count = Math.max(0, count);
  el.textContent = String(count);
  if (counts.deltas.size) {
    el.classList.add("pending");
    el.setAttribute("aria-busy", "true");
    el.setAttribute("aria-label", `${itemsInWords(count)}, saving…`);
  } else {
    el.pendingCounts = null;
    el.classList.remove("pending");
    el.removeAttribute("aria-busy");
    el.setAttribute("aria-label", itemsInWords(count));
  }
}
