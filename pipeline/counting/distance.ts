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

/**
 * The mask is binary, so the first (column) pass needs no parabolas: a pixel's squared distance to the
 * nearest background pixel in its column comes from two running counts, updated a whole row at a time
 * (contiguous memory). The row pass then takes the lower envelope over those squared column distances.
 * The squared distances are exact integers either way, so this equals the two-pass envelope transform.
 */
export function distanceTransform(mask: Uint8Array, width: number, height: number): GrayImage {
  const size = width * height;
  // Pixels to the nearest background pixel in the same column; ≥ height means the column has none.
  const run = new Int32Array(size);
  for (let x = 0; x < width; x++) run[x] = mask[x] ? height : 0;
  for (let p = width; p < size; p++) run[p] = mask[p] ? run[p - width] + 1 : 0;
  for (let p = size - width - 1; p >= 0; p--) {
    const below = run[p + width] + 1;
    if (below < run[p]) run[p] = below;
  }
  const f = new Float64Array(width);
  const d = new Float64Array(width);
  const v = new Int32Array(width);
  const z = new Float64Array(width + 1);
  const out = new Float32Array(size);
  // An all-foreground image has no background: its distances stay "infinite"; cap them at the image diagonal.
  const cap = Math.hypot(width, height);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let any = false;
    for (let x = 0; x < width; x++) {
      const c = run[row + x];
      if (c !== 0) any = true;
      f[x] = c >= height ? INF : c * c;
    }
    if (!any) continue; // all background: distances stay 0
    edt1d(f, width, d, v, z);
    for (let x = 0; x < width; x++) out[row + x] = d[x] >= INF ? cap : Math.sqrt(d[x]);
  }
  return { data: out, width, height };
}
