/** The little linear algebra the stain estimators need: 3-vectors, a symmetric 3×3 eigensolver, percentiles. */
import type { Vec3 } from './types.ts';

export function unit(v: readonly number[]): Vec3 {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Angle between two directions in degrees (sign of the vectors ignored: 0–90°). */
export function angleDeg(a: readonly number[], b: readonly number[]): number {
  const c = Math.abs(dot(unit(a), unit(b)));
  return (Math.acos(Math.min(1, c)) * 180) / Math.PI;
}

/**
 * Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi rotations. Returns eigenvalues in
 * descending order with their unit eigenvectors.
 */
export function symmetricEigen3(m: readonly (readonly number[])[]): { values: number[]; vectors: Vec3[] } {
  const a = m.map((r) => [...r]);
  const v = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  for (let sweep = 0; sweep < 50; sweep++) {
    const off = a[0][1] ** 2 + a[0][2] ** 2 + a[1][2] ** 2;
    if (off < 1e-30) break;
    for (const [p, q] of [
      [0, 1],
      [0, 2],
      [1, 2],
    ]) {
      if (Math.abs(a[p][q]) < 1e-300) continue;
      const theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
      const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
      const c = 1 / Math.sqrt(t * t + 1);
      const s = t * c;
      for (let k = 0; k < 3; k++) {
        const akp = a[k][p];
        const akq = a[k][q];
        a[k][p] = c * akp - s * akq;
        a[k][q] = s * akp + c * akq;
      }
      for (let k = 0; k < 3; k++) {
        const apk = a[p][k];
        const aqk = a[q][k];
        a[p][k] = c * apk - s * aqk;
        a[q][k] = s * apk + c * aqk;
      }
      for (let k = 0; k < 3; k++) {
        const vkp = v[k][p];
        const vkq = v[k][q];
        v[k][p] = c * vkp - s * vkq;
        v[k][q] = s * vkp + c * vkq;
      }
    }
  }
  const order = [0, 1, 2].sort((i, j) => a[j][j] - a[i][i]);
  return {
    values: order.map((i) => a[i][i]),
    vectors: order.map((i) => unit([v[0][i], v[1][i], v[2][i]])),
  };
}

/** The p-th percentile (0–100) of the values, by sorting a copy (linear interpolation between ranks). */
export function percentile(values: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(values).sort();
  if (s.length === 0) return Number.NaN;
  const r = (p / 100) * (s.length - 1);
  const lo = Math.floor(r);
  const hi = Math.min(s.length - 1, lo + 1);
  return s[lo] + (s[hi] - s[lo]) * (r - lo);
}

/**
 * Least-squares unmixing of OD vectors onto two stain vectors: returns the 2×3 matrix P with
 * [cH, cE] = P · od (P = (SᵀS)⁻¹Sᵀ, S = [h e]).
 */
export function unmixingMatrix(h: readonly number[], e: readonly number[]): [Vec3, Vec3] {
  const hh = dot(h, h);
  const he = dot(h, e);
  const ee = dot(e, e);
  const det = hh * ee - he * he;
  if (Math.abs(det) < 1e-12) throw new Error('stain vectors are parallel');
  const r0 = [0, 1, 2].map((c) => (ee * h[c] - he * e[c]) / det) as Vec3;
  const r1 = [0, 1, 2].map((c) => (hh * e[c] - he * h[c]) / det) as Vec3;
  return [r0, r1];
}
