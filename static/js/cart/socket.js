// The page's WebSocket as the htmx ws extension reports it: whether it is open, and which
// cart its channel carries, so the page can reconnect when it listens as the wrong shopper.
import { shown } from "./page.js";
import { showStatus } from "./status.js";

let handle = null; // the ws extension's wrapper: {send, reconnect, ...}
let current = null; // the WebSocket that opened last; closes of older ones are not news
let open = false;
let heardCart = null; // the cart the socket's hello (or its latest event) named
let reconnectedAt = 0;

export const isOpen = () => open;

// What this socket hears of is its channel's cart.
export function heard(cartId) { heardCart = cartId || ""; }

// The socket listens on the channel of whoever its handshake's cookie named. If the page's
// requests now answer for another cart (signed in or out in another tab, and the socket
// reconnected with the old cookie before the new one arrived), connect again as who we are.
export function listenAsThisPage() {
  if (!handle || heardCart === null || shown().cart === heardCart) return;
  if (Date.now() - reconnectedAt < 2000) return; // at most once every 2 s: never a loop
  reconnectedAt = Date.now();
  heardCart = null;
  handle.reconnect();
}

// A socket may well outlive a spell offline: the state shown is what the socket really is.
export function onConnecting() { showStatus(navigator.onLine ? "connecting" : "offline"); }

export function onOpen(evt) {
  handle = evt.detail.socketWrapper || handle;
  current = evt.detail.event && evt.detail.event.target;
  open = true;
  showStatus("connected");
}

export function onClose(evt) {
  const closed = evt.detail.event && evt.detail.event.target;
  if (current && closed && closed !== current) return; // a replaced socket, not ours now
  open = false;
  showStatus(navigator.onLine ? "connecting" : "offline");
}
