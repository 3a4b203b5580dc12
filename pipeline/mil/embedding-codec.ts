/**
 * Embedding vectors as compact little-endian blobs for `patches.embedding`: float32 (exact) or float16
 * (half the size; ~3 significant digits, ample for attention-MIL inputs). Node 20 has no Float16Array,
 * so half floats are converted here (round to nearest even).
 */
import { StoreError } from '../errors.ts';

export type EmbeddingDtype = 'float32' | 'float16';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000; // subnormal: shift the implicit bit in
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    if (rest > midpoint || (rest === midpoint && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
  return sign | half;
}

export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

export function encodeEmbedding(vector: Float32Array, dtype: EmbeddingDtype): Buffer {
  if (dtype === 'float32') {
    const out = Buffer.alloc(vector.length * 4);
    for (let i = 0; i < vector.length; i++) out.writeFloatLE(vector[i], i * 4);
    return out;
  }
  const out = Buffer.alloc(vector.length * 2);
  for (let i = 0; i < vector.length; i++) out.writeUInt16LE(toHalf(vector[i]), i * 2);
  return out;
}

/** Decodes a blob into `out` at `offset` (length `dim`); throws StoreError when the size is wrong. */
export function decodeEmbeddingInto(
  blob: Uint8Array,
  dtype: EmbeddingDtype,
  dim: number,
  out: Float32Array,
  offset: number,
): void {
  const bytes = dtype === 'float32' ? 4 : 2;
  if (blob.byteLength !== dim * bytes) {
    throw new StoreError(`embedding blob of ${blob.byteLength} bytes is not ${dim} ${dtype} values`);
  }
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  for (let i = 0; i < dim; i++) {
    out[offset + i] =
      dtype === 'float32' ? view.getFloat32(i * 4, true) : fromHalf(view.getUint16(i * 2, true));
  }
}
