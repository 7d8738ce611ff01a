// Addresses come from the page (rendered with url_for in base.html), so a shop mounted under a
// prefix, or a renamed route, needs no change here.

// base.html renders the line-quantity address with this in place of the line id.
const LINE_PLACEHOLDER = "__line__";

const linePattern = () => document.body.dataset.lineQuantityUrl || "";

export function syncUrl(version, cart) {
  return `${document.body.dataset.syncUrl}?since=${version}&cart=${encodeURIComponent(cart)}`;
}

// The cart's lines of these products at today's catalog prices (after a catalog change).
export function catalogUrl(skus) {
  return `${document.body.dataset.catalogUrl}?${skus.map((sku) => `sku=${encodeURIComponent(sku)}`).join("&")}`;
}

export const lineQuantityUrl = (lineId) => linePattern().replace(LINE_PLACEHOLDER, encodeURIComponent(lineId));

// The line id when `path` sets a line's quantity, else null (removals and adds set nothing).
export function quantityLineOf(path) {
  const [before, after] = linePattern().split(LINE_PLACEHOLDER);
  if (after === undefined || !path.startsWith(before) || !path.endsWith(after)) return null;
  const id = path.slice(before.length, path.length - after.length);
  return id && id.indexOf("/") < 0 ? decodeURIComponent(id) : null;
}
