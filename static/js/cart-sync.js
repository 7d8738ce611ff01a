// Live cart sync: what htmx alone cannot do.
//  - a version guard, so a page never swaps in an older cart than it shows;
//  - resync when a page missed events (a gap, a reconnect, focus, coming back online);
//  - an offline queue that replays changes in order, each under its own idempotency key;
//  - "keep mine" when another device overrode a quantity this page set;
//  - recovery from a stale CSRF token after signing in or out in another tab.
(function () {
  "use strict";

  const QUEUE_KEY = "storefront.pending-changes";
  const myWrites = new Map(); // line id -> {quantity, version} this page set
  let resyncing = null;
  let applyingResync = false;
  let pendingConflict = null;
  let replaying = false;

  const pageId = () => document.body.dataset.pageId || "";
  const cartState = () => document.getElementById("cart-state");
  const shown = () => {
    const el = cartState();
    return { cart: (el && el.dataset.cartId) || "", version: Number((el && el.dataset.cartVersion) || 0) };
  };
  const csrfMeta = () => document.querySelector('meta[name="csrf-token"]');
  const newKey = () =>
    (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));

  // --- status -------------------------------------------------------------------------------

  function queue() {
    try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; }
  }
  function saveQueue(items) { localStorage.setItem(QUEUE_KEY, JSON.stringify(items)); }

  let connection = "connecting";
  function showStatus(state) {
    if (state) connection = state;
    const el = document.getElementById("sync-status");
    if (!el) return;
    const waiting = queue().length;
    const words = { connected: "Live sync: connected", connecting: "Live sync: connecting…", offline: "Live sync: offline" };
    let text = words[connection];
    if (waiting) text += ` · ${waiting} ${waiting === 1 ? "change" : "changes"} waiting to be sent`;
    el.dataset.state = connection;
    el.dataset.pending = String(waiting);
    el.querySelector(".sync-text").textContent = text;
  }

  function say(html) {
    const notice = document.getElementById("notice");
    if (notice) notice.innerHTML = html;
  }
  const escapeText = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

  // --- the version guard ----------------------------------------------------------------------

  function incoming(fragment) {
    if (!fragment) return null;
    return fragment.nodeType === 11 ? fragment.firstElementChild : fragment;
  }

  document.addEventListener("htmx:oobBeforeSwap", (evt) => {
    const el = incoming(evt.detail.fragment);
    if (!el || !el.dataset) return;
    if (el.dataset.originPage && el.dataset.originPage === pageId()) {
      evt.preventDefault(); // "on another device" is not news to the page that did it
      return;
    }
    if (applyingResync || el.dataset.cartVersion === undefined) return;
    if (Number(el.dataset.cartVersion) <= shown().version) evt.preventDefault();
  });

  // Pieces aimed at parts this page does not have (line rows on a product page) are dropped
  // before htmx looks for their targets.
  htmx.defineExtension("cart-sync", { transformResponse: (text) => onlyPresentTargets(text) });

  function onlyPresentTargets(text) {
    if (text.indexOf("hx-swap-oob") < 0) return text;
    const content = parse(text);
    let dropped = false;
    content.querySelectorAll("[hx-swap-oob]").forEach((el) => {
      const value = el.getAttribute("hx-swap-oob");
      const selector = value.indexOf(":") > 0 ? value.slice(value.indexOf(":") + 1) : el.id && `#${CSS.escape(el.id)}`;
      if (selector && !document.querySelector(selector)) { el.remove(); dropped = true; }
    });
    if (!dropped) return text;
    const holder = document.createElement("div");
    holder.appendChild(content);
    return holder.innerHTML;
  }

  function applyOutOfBand(html) {
    htmx.swap(document.body, onlyPresentTargets(html), { swapStyle: "none" });
  }

  function parse(html) {
    const tpl = document.createElement("template");
    tpl.innerHTML = html;
    return tpl.content;
  }

  // --- resync: the whole cart once, when this page may have missed something -----------------

  function resync() {
    if (resyncing) return resyncing;
    const now = shown();
    const url = `/cart/sync?since=${now.version}&cart=${encodeURIComponent(now.cart)}`;
    resyncing = fetch(url, { headers: { "HX-Request": "true", "X-Page-Id": pageId() }, credentials: "same-origin" })
      .then((response) => {
        const token = response.headers.get("X-CSRF-Token");
        if (token && csrfMeta()) csrfMeta().content = token;
        return response.status === 200 ? response.text() : "";
      })
      .then((html) => {
        if (!html) return;
        const state = parse(html).querySelector("#cart-state");
        const current = shown();
        if (state && state.dataset.cartId === current.cart && Number(state.dataset.cartVersion) < current.version) return;
        applyingResync = true;
        try { applyOutOfBand(html); } finally { applyingResync = false; }
      })
      .catch(() => {})
      .finally(() => { resyncing = null; });
    return resyncing;
  }

  // --- pushed events --------------------------------------------------------------------------

  function handleControl(control, content) {
    const kind = control.dataset.control;
    if (kind === "hello") {
      const now = shown();
      if (control.dataset.cartId !== now.cart || Number(control.dataset.cartVersion) !== now.version) resync();
      replayQueue();
    } else if (kind === "resync") {
      const notice = content.querySelector("#notice");
      if (notice && notice.dataset.originPage !== pageId()) say(notice.innerHTML);
      resync();
    }
  }

  document.addEventListener("htmx:wsBeforeMessage", (evt) => {
    const content = parse(evt.detail.message);
    const control = content.querySelector("template[data-control]");
    if (control) {
      evt.preventDefault();
      handleControl(control, content);
      return;
    }
    const state = content.querySelector("#cart-state");
    if (!state) return;
    const now = shown();
    const version = Number(state.dataset.cartVersion);
    if (now.cart && state.dataset.cartId !== now.cart) { evt.preventDefault(); resync(); return; }
    if (version <= now.version) { evt.preventDefault(); return; } // old news
    if (version > now.version + 1) { evt.preventDefault(); resync(); return; } // a gap
    pendingConflict = conflictIn(state);
  });

  document.addEventListener("htmx:wsAfterMessage", () => {
    if (!pendingConflict) return;
    const c = pendingConflict;
    pendingConflict = null;
    const row = document.getElementById(`line-${c.line}`);
    const name = row ? row.querySelector(".line-info a").textContent : "A line";
    say(`<p class="notice conflict">${escapeText(name)}: your quantity ${c.mine} was replaced by ${c.theirs} from another device. ` +
      `<button type="button" class="keep-mine" data-testid="keep-mine" data-line="${escapeText(c.line)}" data-quantity="${c.mine}">Keep mine (${c.mine})</button></p>`);
  });

  function conflictIn(state) {
    if (state.dataset.op !== "set" || state.dataset.originPage === pageId()) return null;
    const line = state.dataset.line;
    const mine = myWrites.get(line);
    const seen = Number(state.dataset.seenVersion || 0);
    myWrites.delete(line);
    // The other device had not seen our write when it made its own: ours was overridden.
    if (!mine || mine.version <= seen || Number(state.dataset.quantity) === mine.quantity) return null;
    return { line, mine: mine.quantity, theirs: Number(state.dataset.quantity) };
  }

  document.addEventListener("click", (evt) => {
    const button = evt.target.closest(".keep-mine");
    if (!button) return;
    htmx.ajax("POST", `/cart/lines/${button.dataset.line}`, {
      values: { quantity: button.dataset.quantity },
      swap: "none",
      source: document.body,
    });
  });

  // --- outgoing changes -----------------------------------------------------------------------

  document.addEventListener("htmx:configRequest", (evt) => {
    const d = evt.detail;
    d.headers["X-CSRF-Token"] = csrfMeta() ? csrfMeta().content : "";
    d.headers["X-Page-Id"] = pageId();
    if (d.verb === "get") return;
    // Every change gets its own key (a form's rendered key may have been used already), and the
    // version this page shows, so the server can tell what this page had seen.
    const key = newKey();
    const version = String(shown().version);
    if (d.formData) { d.formData.set("idempotency_key", key); d.formData.set("version", version); }
    d.parameters.idempotency_key = key;
    d.parameters.version = version;
  });

  document.addEventListener("htmx:beforeRequest", (evt) => {
    const cfg = evt.detail.requestConfig;
    if (!cfg || cfg.verb === "get" || navigator.onLine) return;
    evt.preventDefault();
    enqueue(cfg);
  });

  // A request that may or may not have reached the server is queued under the same key:
  // replaying it can never apply it twice.
  document.addEventListener("htmx:sendError", (evt) => {
    const cfg = evt.detail.requestConfig;
    if (cfg && cfg.verb !== "get") enqueue(cfg);
  });

  function enqueue(cfg) {
    const params = {};
    (cfg.formData || new FormData()).forEach((value, name) => { if (name !== "csrf_token") params[name] = value; });
    if (!params.idempotency_key) params.idempotency_key = newKey();
    const items = queue();
    items.push({ path: cfg.path, params });
    saveQueue(items);
    showStatus();
    say('<p class="notice">You are offline. The change is saved on this device and will be sent when the connection returns.</p>');
  }

  document.addEventListener("htmx:afterRequest", (evt) => {
    const cfg = evt.detail.requestConfig;
    const xhr = evt.detail.xhr;
    if (!cfg || !xhr || !evt.detail.successful) return;
    const match = /^\/cart\/lines\/([^/]+)$/.exec(cfg.path);
    const version = Number(xhr.getResponseHeader("X-Cart-Version"));
    if (match && version && cfg.formData) {
      myWrites.set(decodeURIComponent(match[1]), { quantity: Number(cfg.formData.get("quantity")), version });
    }
    if (version > shown().version + 1) resync(); // our change landed after others we never saw
  });

  // A stale CSRF token (signed in or out in another tab): fetch a fresh one, then retry once.
  document.addEventListener("htmx:beforeSwap", (evt) => {
    const xhr = evt.detail.xhr;
    if (!xhr || xhr.status !== 403 || xhr.responseText.indexOf("security token") < 0) return;
    const elt = evt.detail.requestConfig && evt.detail.requestConfig.elt;
    if (!elt || elt.dataset.csrfRetried) return;
    evt.detail.shouldSwap = false;
    elt.dataset.csrfRetried = "1";
    resync().then(() => {
      htmx.trigger(elt, elt.tagName === "FORM" ? "submit" : "click");
      setTimeout(() => { delete elt.dataset.csrfRetried; }, 5000);
    });
  });

  async function replayQueue() {
    if (replaying || !navigator.onLine || !queue().length) return;
    replaying = true;
    try {
      while (queue().length) {
        const [item, ...rest] = queue();
        let response;
        try {
          response = await send(item);
          if (response.status === 403) { await resync(); response = await send(item); }
        } catch (e) {
          break; // still offline: try again later
        }
        if (response.status === 429) break;
        const html = await response.text();
        saveQueue(rest);
        showStatus();
        if (response.ok) applyOutOfBand(html);
        else say(html);
      }
    } finally {
      replaying = false;
      showStatus();
      resync();
    }
  }

  function send(item) {
    return fetch(item.path, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "HX-Request": "true",
        "X-CSRF-Token": csrfMeta() ? csrfMeta().content : "",
        "X-Page-Id": pageId(),
        "Content-Type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams(item.params),
    });
  }

  // --- connection state and revalidation ------------------------------------------------------

  document.addEventListener("htmx:wsConnecting", () => showStatus(navigator.onLine ? "connecting" : "offline"));
  document.addEventListener("htmx:wsOpen", () => showStatus("connected"));
  document.addEventListener("htmx:wsClose", () => showStatus(navigator.onLine ? "connecting" : "offline"));
  window.addEventListener("offline", () => showStatus("offline"));
  window.addEventListener("online", () => { showStatus("connecting"); replayQueue().then(resync); });
  window.addEventListener("focus", () => resync());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) resync(); });
  document.addEventListener("DOMContentLoaded", () => {
    showStatus(navigator.onLine ? "connecting" : "offline");
    replayQueue();
  });
})();
