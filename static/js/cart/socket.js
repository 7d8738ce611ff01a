// The page's WebSocket, as the htmx ws extension opens it: whether it works, which cart its
// channel carries, and when to fall back. A socket that cannot connect, or closes before the
// server's first message, three times in a row (or says nothing for 10 s) sends the page to
// the fallback (fallback.js: Server-Sent Events, then polling); the socket is still tried now
// and then, and the page goes back to it at its first message.
import * as fallback from "./fallback.js";
import { shown } from "./page.js";
import { showStatus } from "./status.js";
import { markSynced } from "./sync-controls.js";

const FAILURES_BEFORE_FALLBACK = 3;
const SILENT_SOCKET_MS = 10000; // a proxy may hold the upgrade without ever answering
// Codes after which the ws extension reconnects by itself; after others (a proxy's 1000 or
// 1008, say) this module does.
const EXTENSION_RETRIES = [1006, 1011, 1012, 1013];

let handle = null; // the ws extension's wrapper: {send, reconnect, ...}
let current = null; // the WebSocket opened last; closes of older ones are not news
let spoke = false; // the current socket has had its first message (the hello)
let failures = 0; // sockets in a row that closed before their first message
let heardCart = null; // the cart the socket's hello (or its latest event) named
let reconnectedAt = 0;

// Every socket the ws extension makes passes here first, so this module's listeners run
// before the extension's: the status says "connected" before the hello is handled.
export function watchSockets() {
  const create = htmx.createWebSocket;
  htmx.createWebSocket = (url) => follow(create(url));
  htmx.config.wsReconnectDelay = reconnectDelay;
}

// While the fallback carries the page, the socket is tried again now and then, not at once.
function reconnectDelay(retryCount) {
  if (fallback.active()) return 20000 + Math.random() * 20000;
  return Math.random() * 1000 * Math.pow(2, Math.min(retryCount, 6)); // the extension's own
}

function follow(ws) {
  current = ws;
  spoke = false;
  const silent = setTimeout(() => { if (!spoke && ws.readyState !== WebSocket.CLOSED) ws.close(); }, SILENT_SOCKET_MS);
  ws.addEventListener("message", () => {
    if (ws !== current) return;
    markSynced();
    if (spoke) return;
    spoke = true;
    clearTimeout(silent);
    failures = 0;
    fallback.stop();
    showStatus("connected");
  });
  ws.addEventListener("close", (evt) => {
    clearTimeout(silent);
    if (ws !== current) return; // replaced by a newer socket
    const wasLive = spoke;
    spoke = false;
    if (!wasLive) failures += 1;
    if (failures >= FAILURES_BEFORE_FALLBACK) fallback.start(retrySocketSoon);
    if (!fallback.connected()) showStatus(navigator.onLine ? "connecting" : "offline");
    if (EXTENSION_RETRIES.indexOf(evt.code) < 0) setTimeout(() => reconnectIf(ws), reconnectDelay(failures));
  });
  return ws;
}

function reconnectIf(closed) {
  if (closed === current && closed.readyState === WebSocket.CLOSED && handle) handle.reconnect();
}

// The fallback just connected: the server is reachable, so the socket may well be too (the
// server was away, not the socket blocked). One try at once; then now and then.
function retrySocketSoon() {
  const closed = current;
  setTimeout(() => reconnectIf(closed), 500);
}

export const isLive = () => spoke && current !== null && current.readyState === WebSocket.OPEN;

// The state in words for whichever connection carries the page.
export function showConnection() {
  if (isLive()) showStatus("connected");
  else if (fallback.connected()) showStatus("fallback");
  else showStatus(navigator.onLine ? "connecting" : "offline");
}

// What this connection hears of is its channel's cart.
export function heard(cartId) { heardCart = cartId || ""; }

// The connection listens on the channel of whoever its cookie named. If the page's requests
// now answer for another cart (signed in or out in another tab, and it reconnected with the
// old cookie before the new one arrived), connect again as who we are.
export function listenAsThisPage() {
  if (heardCart === null || shown().cart === heardCart) return;
  if (Date.now() - reconnectedAt < 2000) return; // at most once every 2 s: never a loop
  reconnectedAt = Date.now();
  heardCart = null;
  if (fallback.connected()) fallback.reconnect();
  else if (handle) handle.reconnect();
}

// "Sync now": a connection that is down is tried again at once.
export function reconnectNow() {
  if (isLive()) return;
  if (fallback.active()) fallback.reconnect();
  if (handle && (!current || current.readyState === WebSocket.CLOSED)) handle.reconnect();
}

export function wakeFallback() { if (fallback.active()) fallback.reconnect(); }

export function onConnecting() { if (!fallback.connected()) showStatus(navigator.onLine ? "connecting" : "offline"); }

export function onOpen(evt) { handle = evt.detail.socketWrapper || handle; }

export function onClose(evt) { handle = evt.detail.socketWrapper || handle; }
