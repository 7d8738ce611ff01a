// The offline queue as this browser keeps it. A queued change holds what the shopper chose (a
// SKU, an engraving's text), so it is never written down in the clear: each change is sealed
// with AES-GCM under a key that WebCrypto generated as non-extractable and that IndexedDB keeps
// (a CryptoKey survives there as an opaque object; no script, ours included, can read its
// bytes). The sealed changes live in localStorage, so every tab of the shop sees the same list
// (and its count) at once, and a change survives closing the tab.
//
// Without WebCrypto or IndexedDB (an insecure origin, a browser that refuses storage) changes
// wait in this tab's memory only: never in the clear on disk.

const QUEUE_KEY = "storefront.sealed-changes";
const PLAIN_KEY = "storefront.pending-changes"; // how earlier versions kept the queue, in the clear
const DB_NAME = "storefront-offline";
const KEY_STORE = "keys";
const KEY_ID = "queue";

let memory = []; // the tab-only fallback: [{id, item}]
let keyPromise = null;
let writes = Promise.resolve(); // appends run one after another: the queue keeps their order

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// What every tab can read at once, without the key: one entry per change, {id, iv, data} (the
// id is the change's random idempotency key; iv and data are base64).
export function queued() {
  return stored().concat(memory);
}

function stored() {
  try { return JSON.parse(localStorage.getItem(QUEUE_KEY) || "[]"); } catch (e) { return []; }
}

function save(entries) {
  if (entries.length) localStorage.setItem(QUEUE_KEY, JSON.stringify(entries));
  else localStorage.removeItem(QUEUE_KEY);
}

const toBase64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
const fromBase64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

// The database with its key store (made by an upgrade if the database exists without it).
async function openDatabase(version = undefined) {
  const req = indexedDB.open(DB_NAME, version);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(KEY_STORE)) req.result.createObjectStore(KEY_STORE);
  };
  const db = await request(req);
  if (db.objectStoreNames.contains(KEY_STORE) || version) return db;
  db.close();
  return openDatabase(db.version + 1);
}

// The one key of this browser's queue. Two tabs may both find none: each makes one, and the
// first to write it in (one read-write transaction: get, then add only if still absent) wins.
async function loadKey() {
  if (!globalThis.crypto || !crypto.subtle || !globalThis.indexedDB) return null;
  const db = await openDatabase();
  try {
    const stored = await request(db.transaction(KEY_STORE).objectStore(KEY_STORE).get(KEY_ID));
    if (stored) return stored;
    const fresh = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(KEY_STORE, "readwrite");
      const keys = tx.objectStore(KEY_STORE);
      let chosen = fresh;
      keys.get(KEY_ID).onsuccess = (evt) => {
        if (evt.target.result) chosen = evt.target.result;
        else keys.add(fresh, KEY_ID);
      };
      tx.oncomplete = () => resolve(chosen);
      tx.onerror = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

function queueKey() {
  if (!keyPromise) keyPromise = loadKey().catch(() => null);
  return keyPromise;
}

// The change's id is its additional data: a sealed change cannot pass for another one.
async function seal(key, item) {
  const id = item.params.idempotency_key;
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const data = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(id) }, key, encoder.encode(JSON.stringify(item)));
  return { id, iv: toBase64(iv), data: toBase64(data) };
}

// The change in a queued entry; null if it cannot be opened (sealed under a key that is gone:
// site data partly cleared; or tampered with); undefined if this tab cannot try (no key store
// here now), when the entry must stay for a tab that can.
export async function open(entry) {
  if (entry.item) return entry.item;
  const key = await queueKey();
  if (!key) return undefined;
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: fromBase64(entry.iv), additionalData: encoder.encode(entry.id) }, key, fromBase64(entry.data));
    return JSON.parse(decoder.decode(plain));
  } catch (e) {
    return null;
  }
}

async function appendNow(item) {
  const key = await queueKey();
  if (!key) {
    memory.push({ id: item.params.idempotency_key, item });
    return;
  }
  const entry = await seal(key, item);
  // Read just before writing (no await in between): another tab may have queued meanwhile.
  const entries = stored();
  entries.push(entry);
  save(entries);
}

// Settles once every change appended so far is written.
export const written = () => writes;

export function append(item) {
  writes = writes.then(() => appendNow(item)).catch(() => memory.push({ id: item.params.idempotency_key, item }));
  return writes;
}

// By id, not by position: other changes may have been queued meanwhile (by any tab).
export function forget(id) {
  memory = memory.filter((entry) => entry.id !== id);
  const entries = stored();
  const left = entries.filter((entry) => entry.id !== id);
  if (left.length !== entries.length) save(left);
}

// A queue an earlier version left in the clear: sealed now (or kept in memory), and the plain
// copy removed at once either way. Call once, before anything reads the queue.
export async function migratePlainQueue() {
  let old = null;
  try { old = localStorage.getItem(PLAIN_KEY); } catch (e) { return; }
  if (old === null) return;
  localStorage.removeItem(PLAIN_KEY);
  let items = [];
  try { items = JSON.parse(old); } catch (e) { items = []; }
  for (const item of Array.isArray(items) ? items : []) {
    if (item && item.path && item.params && item.params.idempotency_key) await append(item);
  }
}

// A storage event about the queue (or about all of localStorage, cleared).
export const isQueueEvent = (evt) => evt.key === QUEUE_KEY || evt.key === null;
