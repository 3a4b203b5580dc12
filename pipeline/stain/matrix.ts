/**
 * Shared by Macenko and Vahadane: concentrations from OD under a stain matrix, their percentiles, and the
 * per-tile map from one stain matrix to another (a 3×3 linear map in OD space, so one pass per pixel).
 */
import { unmixingMatrix } from './linalg.ts';
import { fromOd, odTables } from './od.ts';
import type { StainMatrix, TileNormaliser, Vec3 } from './types.ts';

/** 99th percentile of the H and E concentrations of OD samples (n × 3) under stains h, e. */
export function maxConcentrations(od: Float64Array, h: Vec3, e: Vec3, p = 99): [number, number] {
  const [ph, pe] = unmixingMatrix(h, e);
  const n = od.length / 3;
  const ch = new Float64Array(n);
  const ce = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const a = od[i * 3];
    const b = od[i * 3 + 1];
    const c = od[i * 3 + 2];
    ch[i] = ph[0] * a + ph[1] * b + ph[2] * c;
    ce[i] = pe[0] * a + pe[1] * b + pe[2] * c;
  }
  ch.sort();
  ce.sort();
  const at = (s: Float64Array) => Math.max(1e-3, s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]);
  return [at(ch), at(ce)];
}

/** Orders two OD directions as (haematoxylin, eosin): haematoxylin absorbs more red than eosin. */
export function orderHE(a: Vec3, b: Vec3): [Vec3, Vec3] {
  return a[0] / (a[1] + 1e-9) >= b[0] / (b[1] + 1e-9) ? [a, b] : [b, a];
}

/**
 * Stain concentrations of each pixel under `source` (least squares, negative amounts set to 0: a pixel
 * holds no negative stain), scaled so the source's 99th percentiles meet the target's, re-mixed with the
 * target's stain vectors and background.
 */
export function matrixNormaliser(source: StainMatrix, target: StainMatrix): TileNormaliser {
  const [ph, pe] = unmixingMatrix(source.h, source.e);
  const sh = target.maxConc[0] / source.maxConc[0];
  const se = target.maxConc[1] / source.maxConc[1];
  const th = target.h.map((v) => v * sh);
  const te = target.e.map((v) => v * se);
  const t = odTables(source.background);
  const bg = target.background;
  return (pixels, channels) => {
    const n = pixels.length / channels;
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      const p = i * channels;
      const a = t[0][pixels[p]];
      const b = t[1][pixels[p + 1]];
      const c = t[2][pixels[p + 2]];
      const ch = Math.max(0, ph[0] * a + ph[1] * b + ph[2] * c);
      const ce = Math.max(0, pe[0] * a + pe[1] * b + pe[2] * c);
      for (let k = 0; k < 3; k++) out[i * 3 + k] = fromOd(ch * th[k] + ce * te[k], bg[k]);
    }
    return out;
  };
}
