/**
 * Reuse of decoded-tile memory. Random reads on a large slide decode a tile, keep it in the cache
 * for a while and drop it: allocating a fresh 200 KB buffer each time made garbage collection about
 * a third of the decode cost. Buffers allocated here are marked as ours; when the cache evicts one
 * that no read is waiting on (the slide checks), it comes back here for the next decode of that size.
 * Per thread (module state): each worker has its own. Shared or foreign buffers are never taken.
 */
const owned = new WeakSet<ArrayBufferLike>();
const free = new Map<number, Uint8Array[]>();
const MAX_FREE_PER_SIZE = 32;

/**
 * A plain Uint8Array over fresh, unzeroed memory of its own (never Buffer's shared pool, so it can be
 * transferred or recycled whole): for callers that overwrite every byte.
 */
export function allocUnzeroed(n: number): Uint8Array {
  const b = Buffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}

/** Unzeroed memory of its own: the caller overwrites every byte. */
export function allocTileBuffer(n: number): Uint8Array {
  const reused = free.get(n)?.pop();
  if (reused) return reused;
  const u = allocUnzeroed(n);
  owned.add(u.buffer);
  return u;
}

/** Hands a buffer back for reuse. Only call when nothing else can still read it. */
export function recycleTileBuffer(u: Uint8Array): void {
  if (!owned.has(u.buffer) || u.byteOffset !== 0 || u.byteLength !== u.buffer.byteLength) return;
  let list = free.get(u.byteLength);
  if (!list) {
    list = [];
    free.set(u.byteLength, list);
  }
  if (list.length < MAX_FREE_PER_SIZE) list.push(u);
}

/**
 * Compressed tile bytes, read from a local file and dropped once decoded. Their lengths vary tile to
 * tile, so buffers come in power-of-two capacities and the caller gets a view of the length asked for.
 */
const ownedRead = new WeakSet<ArrayBufferLike>();
const freeRead = new Map<number, ArrayBuffer[]>();
const MIN_READ_CAPACITY = 4096;

export function allocReadBuffer(length: number): Uint8Array {
  let capacity = MIN_READ_CAPACITY;
  while (capacity < length) capacity *= 2;
  const reused = freeRead.get(capacity)?.pop();
  if (reused) return new Uint8Array(reused, 0, length);
  const fresh = allocUnzeroed(capacity);
  ownedRead.add(fresh.buffer);
  return fresh.subarray(0, length);
}

/** Hands read bytes back once nothing reads them any more (decoded into a buffer of its own). */
export function recycleReadBuffer(u: Uint8Array): void {
  const buf = u.buffer;
  if (!ownedRead.has(buf) || u.byteOffset !== 0) return;
  let list = freeRead.get(buf.byteLength);
  if (!list) {
    list = [];
    freeRead.set(buf.byteLength, list);
  }
  if (list.length < MAX_FREE_PER_SIZE && !list.includes(buf as ArrayBuffer)) list.push(buf as ArrayBuffer);
}
