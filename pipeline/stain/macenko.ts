/**
 * Macenko et al. 2009: the plane of the two largest principal directions of the tissue's optical densities
 * holds both stains; the robust extremes (1st and 99th percentile) of the angle of each OD sample within
 * that plane are the haematoxylin and eosin vectors.
 */
import { dot, percentile, symmetricEigen3, unit } from './linalg.ts';
import { maxConcentrations, orderHE } from './matrix.ts';
import type { StainMatrix, Vec3 } from './types.ts';

/** Stain vectors from tissue OD samples (n × 3). `alpha` is the angle percentile (default 1). */
export function macenkoStains(od: Float64Array, alpha = 1): [Vec3, Vec3] {
  const n = od.length / 3;
  if (n < 16) throw new Error('too few stained tissue pixels to estimate stain vectors');
  // Second-moment matrix of OD (about the origin: the stains are directions through it, as in Macenko).
  const m = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  for (let i = 0; i < n; i++)
    for (let r = 0; r < 3; r++) for (let c = r; c < 3; c++) m[r][c] += od[i * 3 + r] * od[i * 3 + c];
  for (let r = 0; r < 3; r++) for (let c = 0; c < r; c++) m[r][c] = m[c][r];
  const { vectors } = symmetricEigen3(m);
  const sign = (v: Vec3): Vec3 => (v[0] + v[1] + v[2] < 0 ? [-v[0], -v[1], -v[2]] : v);
  const v1 = sign(vectors[0]);
  const v2 = vectors[1];
  const angles = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = [od[i * 3], od[i * 3 + 1], od[i * 3 + 2]];
    angles[i] = Math.atan2(dot(s, v2), dot(s, v1));
  }
  const lo = percentile(angles, alpha);
  const hi = percentile(angles, 100 - alpha);
  const at = (a: number) =>
    unit([0, 1, 2].map((c) => v1[c] * Math.cos(a) + v2[c] * Math.sin(a)).map((x) => Math.max(x, 1e-6)));
  return orderHE(at(lo), at(hi));
}

export function estimateMacenko(od: Float64Array, background: Vec3, alpha = 1): StainMatrix {
  const [h, e] = macenkoStains(od, alpha);
  return { method: 'macenko', h, e, maxConc: maxConcentrations(od, h, e), background };
}
