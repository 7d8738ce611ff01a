// "Keep mine": when another device overrode a quantity this page had set, without having
// seen it, say so and offer to put ours back.
import { escapeText, pageId, say } from "./page.js";
import { lineQuantityUrl, quantityLineOf } from "./routes.js";

const myWrites = new Map(); // line id -> {quantity, version} this page set
let pending = null; // found before a pushed event is swapped in, told once it is

// After this page's own quantity change was answered with the version it produced.
export function rememberWrite(path, quantity, version) {
  const line = quantityLineOf(path);
  if (line !== null && version) myWrites.set(line, { quantity, version });
}

// Before a pushed event (its #cart-state) is swapped in.
export function inspect(state) {
  pending = overridden(state);
}

function overridden(state) {
  if (state.dataset.op !== "set" || state.dataset.originPage === pageId()) return null;
  const line = state.dataset.line;
  const mine = myWrites.get(line);
  const seen = Number(state.dataset.seenVersion || 0);
  myWrites.delete(line);
  // The other device had not seen our write when it made its own: ours was overridden.
  if (!mine || mine.version <= seen || Number(state.dataset.quantity) === mine.quantity) return null;
  return { line, mine: mine.quantity, theirs: Number(state.dataset.quantity) };
}

// After the event is in: the row now shows their quantity, and its name to quote.
export function tell() {
  if (!pending) return;
  const c = pending;
  pending = null;
  const row = document.getElementById(`line-${c.line}`);
  const name = row ? row.querySelector(".line-info a").textContent : "A line";
  say(`<p class="notice conflict">${escapeText(name)}: your quantity ${c.mine} was replaced by ${c.theirs} from another device. ` +
    `<button type="button" class="keep-mine" data-testid="keep-mine" data-line="${escapeText(c.line)}" data-quantity="${c.mine}">Keep mine (${c.mine})</button></p>`);
}

export function onKeepMine(evt) {
  const button = evt.target.closest(".keep-mine");
  if (!button) return;
  htmx.ajax("POST", lineQuantityUrl(button.dataset.line), {
    values: { quantity: button.dataset.quantity },
    swap: "none",
    source: document.body,
  });
}
