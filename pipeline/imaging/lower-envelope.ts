/**
 * The 1-D squared Euclidean distance transform of a sampled function (Felzenszwalb & Huttenlocher 2012,
 * "Distance transforms of sampled functions"): d[q] = min_p (q − p)² + f[p], by the lower envelope of
 * parabolas, in linear time. Both exact 2-D distance transforms (cell counting, CAMELYON evaluation masks)
 * run it along rows and columns. Use `EDT_INFINITY` for "no source here".
 */
export const EDT_INFINITY = 1e20;

/** Writes the transform of f[0..n) into d[0..n); v (n) and z (n + 1) are scratch. */
export function lowerEnvelope1d(
  f: Float64Array,
  n: number,
  d: Float64Array,
  v: Int32Array,
  z: Float64Array,
): void {
  let k = 0;
  v[0] = 0;
  z[0] = -EDT_INFINITY;
  z[1] = EDT_INFINITY;
  for (let q = 1; q < n; q++) {
    let s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    while (s <= z[k]) {
      k--;
      s = (f[q] + q * q - (f[v[k]] + v[k] * v[k])) / (2 * q - 2 * v[k]);
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = EDT_INFINITY;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    while (z[k + 1] < q) k++;
    const dq = q - v[k];
    d[q] = dq * dq + f[v[k]];
  }
}
