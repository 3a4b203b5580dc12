/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012, "Distance transforms of sampled
 * functions"): the 1-D lower envelope of parabolas along columns, then along rows. Linear time.
 * Each foreground pixel gets its distance to the nearest background pixel (as scipy's distance_transform_edt).
 */
import type { GrayImage } from './types.ts';

const INF = 1e20;

/** Squared distance transform of a sampled function f (length n) into d; v, z are scratch. */
function edt1d(f: Float64Array, n: number, d: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = 0;
  v[0] = 0;
  z[0] = -INF;
  z[1] = INF;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = INF;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const dq = q - v[k];
    d[q] = dq * dq + f[v[k]];
  }
}

export function distanceTransform(mask: Uint8Array, width: number, height: number): GrayImage {
  const n = Math.max(width, height);
  const f = new Float64Array(n);
  const d = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  // Rows first, written transposed, so the column pass also reads contiguous memory.
  const sqT = new Float64Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) f[x] = mask[row + x] ? INF : 0;
    edt1d(f, width, d, v, z);
    for (let x = 0; x < width; x++) sqT[x * height + y] = d[x];
  }
  const out = new Float32Array(width * height);
  // An all-foreground image has no background: its distances stay "infinite"; cap them at the image diagonal.
  const cap = Math.hypot(width, height);
  for (let x = 0; x < width; x++) {
    const col = x * height;
    for (let y = 0; y < height; y++) f[y] = sqT[col + y];
    edt1d(f, height, d, v, z);
    for (let y = 0; y < height; y++) out[y * width + x] = d[y] >= INF ? cap : Math.sqrt(d[y]);
  }
  return { data: out, width, height };
}
