// A pushed change is most often pieces that changed only in words and values (a line's
// quantity and total, the summary, the badge, #cart-state) and the notice: applied here in
// one pass, patched in place (patch.js), without htmx. Through htmx's out-of-band swaps, which
// end in the same patches, another device's /cart took 2.8-4.0 ms at p50 from the message to
// its badge in Chromium; patched here, 1.4-1.6 ms (issue 10: the push's p50 target is 10 ms from
// the click to the other page).
//
// Anything else goes through htmx as before, the whole message, so that a change never goes
// in half one way and half the other: a new or removed line, a piece whose shape changed, an
// element a pending change has marked, other swap styles, htmx attributes in a notice.
import { parse } from "./page.js";
import { isHtmx, patcher } from "./patch.js";
import { refused } from "./version-guard.js";

// Applies ``message`` and says true, or changes nothing and says false (htmx's turn).
export function applyInPlace(message) {
  const steps = [];
  for (const fresh of Array.from(parse(message).children)) {
    const style = fresh.getAttribute("hx-swap-oob") || "true"; // as the ws extension reads it
    if (style !== "true" && style !== "innerHTML") return false;
    fresh.removeAttribute("hx-swap-oob"); // as htmx hands a piece over
    // A piece aimed at a part this page lacks is dropped, as htmx's would be
    // (version-guard.js: onlyPresentTargets).
    const target = fresh.id ? document.getElementById(fresh.id) : null;
    if (!target || refused(target, fresh)) continue;
    if (style === "innerHTML") {
      if (processedByHtmx(fresh)) return false;
      // Its nodes move in as they are: serialised and parsed again (the notice), they took
      // 0.4 ms of the 2.5 ms a message took in Chromium's profiler.
      steps.push(() => target.replaceChildren(...fresh.childNodes));
    } else {
      const patch = patcher(target, fresh);
      if (!patch) return false;
      steps.push(patch);
    }
  }
  steps.forEach((step) => step());
  return true;
}

// Whether an element inside carries an htmx attribute (htmx must process it: its swap's turn).
function processedByHtmx(piece) {
  for (const el of piece.querySelectorAll("*")) {
    for (const attr of el.attributes) if (isHtmx(attr.name)) return true;
  }
  return false;
}
