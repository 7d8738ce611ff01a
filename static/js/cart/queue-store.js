// The offline queue as this browser keeps it: localStorage, so every tab of the shop sees the
// same list and a change survives closing the tab.

const QUEUE_KEY = "storefront.pending-changes";

export function queued() {
  try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; }
}

function save(items) { localStorage.setItem(QUEUE_KEY, JSON.stringify(items)); }

export function append(item) {
  const items = queued();
  items.push(item);
  save(items);
}

// By key, not by position: other changes may have been queued meanwhile (by any tab).
export function forget(key) {
  save(queued().filter((other) => other.params.idempotency_key !== key));
}

// A storage event about the queue (or about all of localStorage, cleared).
export const isQueueEvent = (evt) => evt.key === QUEUE_KEY || evt.key === null;
