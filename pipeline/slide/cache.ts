/**
 * Least-recently-used cache bounded by total bytes (not entry count): decoded tiles differ in size,
 * and the bound is what keeps memory flat however many regions are read.
 */
export interface ByteLru<V extends { byteLength: number }> {
  get(key: string): V | undefined;
  set(key: string, value: V): void;
  readonly bytes: number;
  readonly capacity: number;
  clear(): void;
}

export function createByteLru<V extends { byteLength: number }>(
  capacityBytes: number,
  /** Called for each entry dropped to make room (not for replaced or cleared entries). */
  onEvict?: (key: string, value: V) => void,
): ByteLru<V> {
  // A Map iterates in insertion order, so re-inserting on access keeps the least recent entry first.
  const entries = new Map<string, V>();
  let bytes = 0;
  return {
    get(key) {
      const v = entries.get(key);
      if (v !== undefined) {
        entries.delete(key);
        entries.set(key, v);
      }
      return v;
    },
    set(key, value) {
      const old = entries.get(key);
      if (old !== undefined) {
        bytes -= old.byteLength;
        entries.delete(key);
      }
      if (value.byteLength > capacityBytes) return; // larger than the whole cache: do not keep
      entries.set(key, value);
      bytes += value.byteLength;
      for (const [k, v] of entries) {
        if (bytes <= capacityBytes) break;
        entries.delete(k);
        bytes -= v.byteLength;
        onEvict?.(k, v);
      }
    },
    get bytes() {
      return bytes;
    },
    capacity: capacityBytes,
    clear() {
      entries.clear();
      bytes = 0;
    },
  };
}
