// When the WebSocket cannot get through (some proxies and networks block it): the same feed
// over Server-Sent Events, or, when those fail too, over long polls (the server's side is
// storefront/realtime/fallback.py). Each message is handled as the socket's are: control
// messages and the version guard (pushes.js), then the out-of-band swap. socket.js starts and
// stops it; the indicator says "Connected (fallback)" while it carries the page.
import { tell } from "./conflicts.js";
import { csrfToken, pageId, parse, shown } from "./page.js";
import { onMessage } from "./pushes.js";
import { resync } from "./resync.js";
import { showStatus } from "./status.js";
import { markSynced } from "./sync-controls.js";
import { onlyPresentTargets } from "./version-guard.js";

const STREAM_TRIES = 2; // streams in a row that fail before their hello: then long polls
const HELLO_MS = 5000; // a stream whose hello has not come by then is held back by a proxy
const QUIET_MS = 45000; // the server pings every 15 s: a stream silent this long is dead
const POLL_TIMEOUT_MS = 35000; // the server answers a poll within 20 s
const MAX_POLL_DELAY_MS = 30000;

let mode = null; // null (off), "stream" or "poll"
let live = false; // the current stream or poll has had its hello
let source = null; // the EventSource
let watchdog = null;
let timer = null;
let streamFailures = 0;
let pollFailures = 0;
let generation = 0; // moves on every start, stop and reconnect: late answers are dropped
let whenConnected = () => {};

export const active = () => mode !== null;
export const connected = () => mode !== null && live;

export function start(onConnected) {
  if (mode !== null) return;
  whenConnected = onConnected || (() => {});
  streamFailures = 0;
  pollFailures = 0;
  mode = "stream";
  openStream();
}

export function stop() {
  if (mode === null) return;
  mode = null;
  reset();
}

// Listen again from scratch (as who the cookie says now): a stream first again.
export function reconnect() {
  if (mode === null) return;
  reset();
  mode = "stream";
  streamFailures = 0;
  openStream();
}

function reset() {
  generation += 1;
  live = false;
  closeStream();
  clearTimeout(timer);
}

// --- as the socket's messages --------------------------------------------------------------

function deliver(message) {
  markSynced();
  let prevented = false;
  onMessage({ detail: { message }, preventDefault() { prevented = true; } });
  if (prevented) return;
  // As the ws extension swaps a message: each top-level element out of band, by id unless it
  // says otherwise.
  const content = parse(onlyPresentTargets(message));
  for (const el of content.children) if (!el.hasAttribute("hx-swap-oob")) el.setAttribute("hx-swap-oob", "true");
  const holder = document.createElement("div");
  holder.appendChild(content);
  htmx.swap(document.body, holder.innerHTML, { swapStyle: "none" });
  tell();
}

function connectedNow() {
  live = true;
  showStatus("fallback");
  whenConnected();
}

function lost() {
  live = false;
  showStatus(navigator.onLine ? "connecting" : "offline");
}

// --- Server-Sent Events ----------------------------------------------------------------------

function openStream() {
  const es = new EventSource(document.body.dataset.liveEventsUrl);
  source = es;
  live = false;
  arm(HELLO_MS);
  es.onmessage = (evt) => {
    if (source !== es) return;
    arm(QUIET_MS);
    if (!live) { streamFailures = 0; connectedNow(); }
    deliver(evt.data);
  };
  es.addEventListener("ping", () => { if (source === es) { arm(QUIET_MS); markSynced(); } });
  // The server ended this page's stream (its session changed): listen again as who it is now.
  // After a jittered pause: a server shutting down closes every new stream at once, and a
  // page must not hammer it in a tight loop meanwhile.
  es.addEventListener("close", () => {
    if (source !== es) return;
    closeStream();
    timer = setTimeout(openStream, reconnectPause());
  });
  es.onerror = () => { if (source === es) streamFailed(); };
}

function reconnectPause() {
  return 500 + Math.random() * 1000;
}

function arm(ms) {
  clearTimeout(watchdog);
  const es = source;
  watchdog = setTimeout(() => { if (source === es) streamFailed(); }, ms);
}

function closeStream() {
  clearTimeout(watchdog);
  if (source) source.close();
  source = null;
}

function streamFailed() {
  const wasLive = live;
  closeStream();
  lost();
  if (!wasLive) streamFailures += 1;
  if (streamFailures >= STREAM_TRIES) {
    mode = "poll";
    poll(generation);
    return;
  }
  timer = setTimeout(openStream, wasLive ? 500 : 1000 + Math.random() * 1000);
}

// --- long polls ------------------------------------------------------------------------------

function pollUrl() {
  const now = shown();
  // Without a state (the first poll, or after the server said to reconnect) the hello comes.
  const state = live ? `?state=${encodeURIComponent(`${now.cart}:${now.version}`)}` : "";
  return document.body.dataset.livePollUrl + state;
}

function poll(asOf) {
  if (asOf !== generation || mode !== "poll") return;
  fetch(pollUrl(), {
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken(), "X-Page-Id": pageId() },
    signal: AbortSignal.timeout ? AbortSignal.timeout(POLL_TIMEOUT_MS) : undefined,
  })
    .then((response) => {
      if (response.ok) return response.json();
      // A stale token (only asked for where the browser says nothing of where it comes from):
      // the resync brings a fresh one.
      if (response.status === 403) resync();
      throw new Error(`poll: HTTP ${response.status}`);
    })
    .then((body) => {
      if (asOf !== generation) return;
      pollFailures = 0;
      markSynced();
      if (!live) connectedNow();
      body.messages.forEach(deliver);
      if (body.reconnect) live = false; // the next poll asks for the hello, as who we are now
      timer = setTimeout(() => poll(asOf), body.reconnect ? reconnectPause() : 0);
    })
    .catch(() => {
      if (asOf !== generation) return;
      pollFailures += 1;
      lost();
      const delay = Math.min(MAX_POLL_DELAY_MS, 500 * Math.pow(2, pollFailures)) * (0.5 + Math.random() / 2);
      timer = setTimeout(() => poll(asOf), delay);
    });
}
