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
    // Only the notice: #cart-state names its origin too, and the page that made the change must
    // still move to the version it produced.
    const target = evt.detail.target;
    if (target && target.id === "notice" && el.dataset.originPage && el.dataset.originPage === pageId()) {
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
      .finally(() => { resyncing = null; listenAsThisPage(); });
    return resyncing;
  }

  // The socket listens on the channel of whoever its handshake's cookie named. If the page's
  // requests now answer for another cart (signed in or out in another tab, and the socket
  // reconnected with the old cookie before the new one arrived), connect again as who we are.
  let socket = null; // the ws extension's handle: {send, reconnect, ...}
  let socketCart = null; // the cart the socket's hello (or its latest event) named
  let reconnectedAt = 0;
  function listenAsThisPage() {
    if (!socket || socketCart === null || shown().cart === socketCart) return;
    if (Date.now() - reconnectedAt < 2000) return; // at most once every 2 s: never a loop
    reconnectedAt = Date.now();
    socketCart = null;
    socket.reconnect();
  }

  // --- pushed events --------------------------------------------------------------------------

  function handleControl(control, content) {
    const kind = control.dataset.control;
    if (kind === "hello") {
      socketCart = control.dataset.cartId || "";
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
    socketCart = state.dataset.cartId || ""; // what this socket hears of is its channel's cart
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
    // The header carries the token (kept fresh by resync); a form's hidden copy may be stale.
    if (d.formData) d.formData.delete("csrf_token");
    delete d.parameters.csrf_token;
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
    const xhr = evt.detail.xhr;
    if (!cfg || cfg.verb === "get") return;
    if (!navigator.onLine) {
      evt.preventDefault();
      enqueue(cfg);
      return;
    }
    // Listen on the request itself, not on the document: the push of this very change often
    // replaces the form that sent it before the answer arrives, and events htmx fires on a
    // detached form never reach the document.
    if (!xhr) return;
    const sentAt = Number(cfg.formData ? cfg.formData.get("version") : shown().version);
    xhr.addEventListener("load", () => answered(cfg, xhr, sentAt));
    // A request that may or may not have reached the server is queued under the same key:
    // replaying it can never apply it twice.
    xhr.addEventListener("error", () => enqueue(cfg));
  });

  function paramsOf(cfg) {
    const params = {};
    (cfg.formData || new FormData()).forEach((value, name) => { if (name !== "csrf_token") params[name] = value; });
    if (!params.idempotency_key) params.idempotency_key = newKey();
    return params;
  }

  function enqueue(cfg) { keep({ path: cfg.path, params: paramsOf(cfg) }); }

  function keep(item) {
    const items = queue();
    items.push(item);
    saveQueue(items);
    showStatus();
    if (navigator.onLine) retryLater(); // it failed while online: the server may be away
    say('<p class="notice">You are offline. The change is saved on this device and will be sent when the connection returns.</p>');
  }

  function answered(cfg, xhr, sentAt) {
    if (xhr.status < 200 || xhr.status > 299) return;
    const match = /^\/cart\/lines\/([^/]+)$/.exec(cfg.path);
    const version = Number(xhr.getResponseHeader("X-Cart-Version"));
    if (match && version && cfg.formData) {
      myWrites.set(decodeURIComponent(match[1]), { quantity: Number(cfg.formData.get("quantity")), version });
    }
    if (version > sentAt + 1) resync(); // our change landed after others we may not have seen
  }

  // A stale CSRF token (signed in or out in another tab): fetch a fresh one, then send the same
  // change once more, under the same key. Sent by hand: the form may be gone by then (resync
  // redraws the lines), and its hidden token field is the stale one.
  document.addEventListener("htmx:beforeSwap", (evt) => {
    const xhr = evt.detail.xhr;
    const cfg = evt.detail.requestConfig;
    if (!xhr || !cfg || xhr.status !== 403 || xhr.responseText.indexOf("security token") < 0) return;
    evt.detail.shouldSwap = false;
    const item = { path: cfg.path, params: paramsOf(cfg) };
    resync()
      .then(() => send(item))
      .then(
        (response) => response.text().then((html) => (response.ok ? applyOutOfBand(html) : say(html))),
        () => keep(item), // the network failed: queue it, under the same key
      )
      .catch(() => {});
  });

  // A change that could not be sent is tried again a little later, with backoff: the network
  // may need a moment after 'online', or the server may be away while the browser is online.
  let retryTimer = null;
  let retryDelay = 0;
  function retryLater(atLeast = 0) {
    if (retryTimer) return;
    retryDelay = Math.min(30000, retryDelay ? retryDelay * 2 : 1000);
    // A 429 says how long to wait (Retry-After); never come back sooner than that.
    const wait = Math.max(retryDelay, Math.min(60000, atLeast));
    retryTimer = setTimeout(() => { retryTimer = null; replayQueue(); }, wait);
  }


  // The tabs of one browser share the queue (localStorage). One tab at a time sends it, and a
  // tab that waited finds it sent: a change goes out once, not once per open tab (its key
  // would make the repeats harmless, not free). Without Web Locks (an insecure origin), each
  // tab sends what it finds.
  function replayQueue() {
    if (!navigator.onLine || !queue().length) return Promise.resolve(); // no need to queue up
    if (!navigator.locks) return replayQueueHere();
    return navigator.locks.request("storefront-offline-queue", replayQueueHere);
  }

  async function replayQueueHere() {
    if (replaying || !navigator.onLine || !queue().length) return;
    replaying = true;
    try {
      while (queue().length) {
        const item = queue()[0];
        let response;
        try {
          response = await send(item);
          if (response.status === 403) { await resync(); response = await send(item); }
        } catch (e) {
          retryLater(); // still offline, or the server is away: try again later
          break;
        }
        if (response.status === 429 || response.status >= 500) {
          retryLater(Number(response.headers.get("Retry-After") || 0) * 1000);
          break;
        }
        retryDelay = 0;
        const html = await response.text();
        // Drop this item by its key, not by position: other changes may have been queued
        // meanwhile (by this tab or another one).
        const key = item.params.idempotency_key;
        saveQueue(queue().filter((other) => other.params.idempotency_key !== key));
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

  // A replay gives up on an answer that does not come (a connection that only looks back):
  // the change stays queued under its key, and the lock passes on.
  const SEND_TIMEOUT_MS = 15000;

  function send(item) {
    return fetch(item.path, {
      method: "POST",
      credentials: "same-origin",
      signal: AbortSignal.timeout ? AbortSignal.timeout(SEND_TIMEOUT_MS) : undefined,
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

  // A socket may well outlive a spell offline: coming back, say what it really is.
  let socketOpen = false;
  document.addEventListener("htmx:wsConnecting", () => showStatus(navigator.onLine ? "connecting" : "offline"));
  let openSocket = null;
  document.addEventListener("htmx:wsOpen", (evt) => {
    socket = evt.detail.socketWrapper || socket;
    openSocket = evt.detail.event && evt.detail.event.target;
    socketOpen = true;
    showStatus("connected");
  });
  document.addEventListener("htmx:wsClose", (evt) => {
    const closed = evt.detail.event && evt.detail.event.target;
    if (openSocket && closed && closed !== openSocket) return; // a replaced socket, not ours now
    socketOpen = false;
    showStatus(navigator.onLine ? "connecting" : "offline");
  });
  window.addEventListener("offline", () => showStatus("offline"));
  // Every tab shows the same count: another tab's queued or sent change updates this one too.
  window.addEventListener("storage", (evt) => { if (evt.key === QUEUE_KEY || evt.key === null) showStatus(); });
  window.addEventListener("online", () => { showStatus(socketOpen ? "connected" : "connecting"); replayQueue().then(resync); });
  window.addEventListener("focus", () => resync());
  document.addEventListener("visibilitychange", () => { if (!document.hidden) resync(); });
  document.addEventListener("DOMContentLoaded", () => {
    showStatus(navigator.onLine ? "connecting" : "offline");
    replayQueue();
  });
})();
