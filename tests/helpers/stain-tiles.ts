/**
 * Tiles with a known stain: a seeded field of haematoxylin and eosin concentrations (round nuclei over
 * eosin stroma, some glass), rendered through Beer–Lambert with chosen stain vectors, strengths and glass.
 */

import type { Vec3 } from '../../pipeline/stain/types.ts';
import { createRng } from '../../pipeline/util/rng.ts';

export interface StainSpec {
  h: Vec3;
  e: Vec3;
  hScale: number;
  eScale: number;
  background: Vec3;
}

export const unit3 = (v: number[]): Vec3 => {
  const n = Math.hypot(v[0], v[1], v[2]);
  return [v[0] / n, v[1] / n, v[2] / n];
};

export const REFERENCE_STAIN: StainSpec = {
  h: unit3([0.65, 0.7, 0.29]),
  e: unit3([0.07, 0.99, 0.11]),
  hScale: 1,
  eScale: 1,
  background: [240, 240, 240],
};

/** Concentration field (H, E per pixel) of a size × size tile. */
export function concentrationField(size: number, seed: number): { h: Float32Array; e: Float32Array } {
  const rng = createRng(seed);
  const h = new Float32Array(size * size);
  const e = new Float32Array(size * size);
  // Stroma: eosin that varies smoothly, a glass hole in one corner.
  for (let y = 0; y < size; y++)
    for (let x = 0; x < size; x++) {
      const k = y * size + x;
      const glass = x + y < size * 0.3;
      e[k] = glass ? 0 : 0.25 + 0.35 * (0.5 + 0.5 * Math.sin(x / 9) * Math.cos(y / 13));
      h[k] = glass ? 0 : 0.03;
    }
  // Nuclei: discs of haematoxylin, eosin pushed out under them.
  const nuclei = Math.round((size * size) / 180);
  for (let n = 0; n < nuclei; n++) {
    const cx = rng.next() * size;
    const cy = rng.next() * size;
    if (cx + cy < size * 0.3) continue;
    const r = 2 + rng.next() * 3;
    const dark = 0.7 + rng.next() * 0.6;
    for (let y = Math.max(0, Math.floor(cy - r)); y <= Math.min(size - 1, Math.ceil(cy + r)); y++)
      for (let x = Math.max(0, Math.floor(cx - r)); x <= Math.min(size - 1, Math.ceil(cx + r)); x++) {
        if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) continue;
        h[y * size + x] = dark;
        e[y * size + x] *= 0.3;
      }
  }
  return { h, e };
}

/** RGB tile of a concentration field under a stain, with ±`noise` 8-bit grain (seeded). */
export function renderStained(
  field: { h: Float32Array; e: Float32Array },
  stain: StainSpec,
  noise = 1,
  seed = 7,
): Uint8Array {
  const rng = createRng(seed);
  const n = field.h.length;
  const out = new Uint8Array(n * 3);
  for (let k = 0; k < n; k++) {
    const H = field.h[k] * stain.hScale;
    const E = field.e[k] * stain.eScale;
    for (let c = 0; c < 3; c++) {
      const v =
        stain.background[c] * Math.exp(-(H * stain.h[c] + E * stain.e[c])) + (rng.next() * 2 - 1) * noise;
      out[k * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
    }
  }
  return out;
}
