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

// The start tags of a server-rendered fragment, as {attribute: value} objects, without parsing
// the whole fragment into nodes: every pushed change is read before htmx parses it, and a
// full parse per reader cost a millisecond a message in Chromium. The server escapes attribute
// values (no raw quote or ">" inside them), which is what makes a pattern enough here.
const START_TAG = /<([a-z][a-z0-9-]*)(\s[^>]*)?>/gi;
const ATTRIBUTE = /([^\s=]+)(?:="([^"]*)")?/g;

export function startTags(html, wanted) {
  const found = [];
  for (const tag of html.matchAll(START_TAG)) {
    if (!tag[2] || tag[2].indexOf(wanted) < 0) continue;
    const attrs = { tagName: tag[1].toLowerCase() };
    for (const attr of tag[2].matchAll(ATTRIBUTE)) attrs[attr[1]] = attr[2] === undefined ? "" : unescapeAttribute(attr[2]);
    found.push(attrs);
  }
  return found;
}

// The #cart-state element of a fragment, as the dataset it would have once parsed.
export function stateIn(html) {
  const tag = startTags(html, 'id="cart-state"').find((attrs) => attrs.id === "cart-state");
  if (!tag) return null;
  const dataset = {};
  for (const [name, value] of Object.entries(tag)) {
    if (name.startsWith("data-")) dataset[name.slice(5).replace(/-([a-z])/g, (_, c) => c.toUpperCase())] = value;
  }
  return { dataset };
}

function unescapeAttribute(value) {
  if (value.indexOf("&") < 0) return value;
  const tpl = document.createElement("textarea");
  tpl.innerHTML = value;
  return tpl.value;
}
