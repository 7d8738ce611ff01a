// Catalog changes (a price, stock, a retired product) come to every open page on one channel,
// each a <template data-control="catalog" data-sku=…> of pieces rendered once for all pages
// (templates/catalog/_changed.html). This page puts each piece into the elements that show
// that product (data-live-sku, data-live: the product page, the catalog's rows), and, when its
// cart may hold the product, fetches its own lines of it and the cart's new totals, and says
// what changed in the live region.
import { escapeText, pageId, parse, say, shown } from "./page.js";
import { catalogUrl } from "./routes.js";
import { resync } from "./resync.js";
import { applyWholeCart } from "./version-guard.js";

function piecesOf(template) {
  const pieces = {};
  template.content.querySelectorAll("[data-piece]").forEach((p) => { pieces[p.dataset.piece] = p.textContent; });
  return pieces;
}

function showLive(sku, available, pieces) {
  document.querySelectorAll(`[data-live-sku="${CSS.escape(sku)}"]`).forEach((el) => {
    const kind = el.dataset.live;
    if (kind === "add") {
      el.disabled = !available;
      return;
    }
    if (pieces[kind] !== undefined && el.textContent !== pieces[kind]) el.textContent = pieces[kind];
    if (kind === "availability") el.classList.toggle("unavailable", !available);
  });
}

const sayAll = (sentences) => {
  if (sentences.length) say(sentences.map((s) => `<p class="notice catalog">${escapeText(s)}</p>`).join(""));
};

// The cart page shows lines with data-sku; while some of its rows are not loaded yet
// (#more-lines), any product may be among them: the server answers 204 if it is not.
function mayHold(sku) {
  if (!document.getElementById("cart-lines")) return false;
  if (document.getElementById("more-lines")) return true;
  return !!document.querySelector(`[data-testid="cart-line"][data-sku="${CSS.escape(sku)}"]`);
}

function refreshCart(skus, words, tries = 2) {
  fetch(catalogUrl(skus), { headers: { "HX-Request": "true", "X-Page-Id": pageId() }, credentials: "same-origin" })
    .then((response) => (response.status === 200 ? response.text() : ""))
    .then((html) => {
      if (!html) return;
      const content = parse(html);
      const state = content.querySelector("#cart-state");
      const now = shown();
      const version = state ? Number(state.dataset.cartVersion) : -1;
      if (state && state.dataset.cartId === now.cart && version === now.version) {
        // The cart the page shows, at its version: only prices and stock moved, so the answer
        // replaces what the page shows though its version is not newer.
        applyWholeCart(html);
      } else if (!state || state.dataset.cartId !== now.cart || version > now.version) {
        resync(); // the cart itself changed meanwhile: the whole of it, once
      } else if (tries > 1) {
        refreshCart(skus, {}, tries - 1); // the page moved on while we asked: ask again
      }
      const held = new Set(Array.from(content.querySelectorAll("[data-testid=cart-line]"), (el) => el.dataset.sku));
      sayAll(skus.filter((sku) => held.has(sku) && words[sku]).map((sku) => words[sku]));
    })
    .catch(() => {});
}

// A socket that was down (a restart, a lost network) missed whatever the catalog did meanwhile.
// A cart page that shows the cart's current version fetches its shown products' lines once more
// (at most MAX_SKUS of them; a page behind on its version fetches the whole cart anyway).
const MAX_SKUS = 100;
let connectedBefore = false;

export function onHello(versionMatches) {
  const again = connectedBefore;
  connectedBefore = true;
  if (!again || !versionMatches || !document.getElementById("cart-lines")) return;
  const skus = new Set();
  for (const line of document.querySelectorAll('[data-testid="cart-line"]')) {
    skus.add(line.dataset.sku);
    if (skus.size >= MAX_SKUS) break;
  }
  if (skus.size) refreshCart(Array.from(skus), {});
}

export function onCatalogChanges(templates) {
  const words = {};
  const toRefresh = [];
  let productPageWords = [];
  templates.forEach((template) => {
    const sku = template.dataset.sku;
    const pieces = piecesOf(template);
    showLive(sku, template.dataset.available === "true", pieces);
    if (pieces.notice) words[sku] = pieces.notice;
    if (mayHold(sku)) toRefresh.push(sku);
    else if (pieces.notice && document.querySelector(`[data-product-sku="${CSS.escape(sku)}"]`)) {
      productPageWords = [pieces.notice]; // the product this page is about
    }
  });
  sayAll(productPageWords);
  if (toRefresh.length) refreshCart(toRefresh, words);
}
