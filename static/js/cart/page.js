// What every part of live sync reads off the page itself. The server renders the truth into
// the page (#cart-state, the CSRF meta tag, data-* on <body>); these helpers only read it.

export const pageId = () => document.body.dataset.pageId || "";

// The cart (and its version) this page shows right now: the one thing every guard compares.
export function shown() {
  const el = document.getElementById("cart-state");
  return { cart: (el && el.dataset.cartId) || "", version: Number((el && el.dataset.cartVersion) || 0) };
}

const csrfMeta = () => document.querySelector('meta[name="csrf-token"]');

export const csrfToken = () => (csrfMeta() ? csrfMeta().content : "");

export function setCsrfToken(token) {
  if (token && csrfMeta()) csrfMeta().content = token;
}

export const newKey = () =>
  (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

export function say(html) {
  const notice = document.getElementById("notice");
  if (notice) notice.innerHTML = html;
}

export const escapeText = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function parse(html) {
  const tpl = document.createElement("template");
  tpl.innerHTML = html;
  return tpl.content;
}
