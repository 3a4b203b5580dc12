/**
 * Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): column distances, then the 1-D
 * lower envelope of parabolas along rows (pipeline/imaging/lower-envelope.ts). Linear time.
 * Each foreground pixel gets its distance to the nearest background pixel (as scipy's distance_transform_edt).
 */
import { EDT_INFINITY as INF, lowerEnvelope1d } from '../imaging/lower-envelope.ts';
import type { GrayImage } from './types.ts';

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
    lowerEnvelope1d(f, width, d, v, z);
    for (let x = 0; x < width; x++) out[row + x] = d[x] >= INF ? cap : Math.sqrt(d[x]);
  }
  return { data: out, width, height };
}
