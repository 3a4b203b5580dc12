/**
 * Vahadane et al. 2016: sparse non-negative matrix factorisation of the tissue's optical densities,
 * V (n × 3) ≈ W (n × 2 concentrations) · S (2 × 3 stains), minimising ½‖V − WS‖² + λ‖W‖₁ with W, S ≥ 0 and
 * unit-length stain rows. Alternating minimisation on a seeded subsample: W by coordinate descent on
 * each pixel's 2-variable non-negative lasso, S by Lee–Seung multiplicative updates (then unit rows).
 * Started from Macenko's estimate, so it converges to the same ordering. At application time pixels are
 * unmixed by least squares (`matrixNormaliser`), not by the lasso, so tiles normalise in one pass.
 */
import { dot, unit } from './linalg.ts';
import { macenkoStains } from './macenko.ts';
import { maxConcentrations, orderHE } from './matrix.ts';
import type { StainMatrix, Vec3 } from './types.ts';

export interface VahadaneOptions {
  /**
   * Sparsity weight on the concentrations (default 0.01). staintools passes 0.1 to SPAMS; with our
   * alternating solver 0.1 collapsed haematoxylin onto pure red on both real slides in ../shared/data
   * (and 0.05 on one), while 0.01 and below agree with Macenko within ~10°.
   */
  lambda?: number;
  iterations?: number;
  /** Pixels used for the factorisation (default 20,000, an even subsample). */
  samples?: number;
}

export function vahadaneStains(od: Float64Array, o: VahadaneOptions = {}): [Vec3, Vec3] {
  const lambda = o.lambda ?? 0.01;
  const iterations = o.iterations ?? 100;
  const total = od.length / 3;
  const stride = Math.max(1, Math.floor(total / (o.samples ?? 20_000)));
  const n = Math.ceil(total / stride);
  const V = new Float64Array(n * 3);
  for (let i = 0, j = 0; i < total; i += stride, j++) V.set(od.subarray(i * 3, i * 3 + 3), j * 3);
  let [h, e] = macenkoStains(V);
  const W = new Float64Array(n * 2);
  for (let it = 0; it < iterations; it++) {
    // W step: per pixel, min ½‖v − w₀h − w₁e‖² + λ(w₀ + w₁), w ≥ 0 (coordinate descent, warm start).
    const g00 = dot(h, h);
    const g01 = dot(h, e);
    const g11 = dot(e, e);
    for (let i = 0; i < n; i++) {
      const v = V.subarray(i * 3, i * 3 + 3);
      const b0 = dot(h, v);
      const b1 = dot(e, v);
      let w0 = W[i * 2];
      let w1 = W[i * 2 + 1];
      for (let k = 0; k < 4; k++) {
        w0 = Math.max(0, (b0 - lambda - g01 * w1) / g00);
        w1 = Math.max(0, (b1 - lambda - g01 * w0) / g11);
      }
      W[i * 2] = w0;
      W[i * 2 + 1] = w1;
    }
    // S step: Lee–Seung multiplicative update S ← S ⊙ WᵀV / (WᵀW S) (keeps S ≥ 0, never raises the
    // loss), then rows to unit length with W rescaled to match.
    let a00 = 0;
    let a01 = 0;
    let a11 = 0;
    const r0 = [0, 0, 0];
    const r1 = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const w0 = W[i * 2];
      const w1 = W[i * 2 + 1];
      a00 += w0 * w0;
      a01 += w0 * w1;
      a11 += w1 * w1;
      for (let c = 0; c < 3; c++) {
        r0[c] += w0 * V[i * 3 + c];
        r1[c] += w1 * V[i * 3 + c];
      }
    }
    if (!(a00 > 1e-12 && a11 > 1e-12)) break; // one stain unused: keep the current estimate
    const h1 = h.map((v, c) => (v * r0[c]) / (a00 * v + a01 * e[c] + 1e-12));
    const e1 = e.map((v, c) => (v * r1[c]) / (a01 * h[c] + a11 * v + 1e-12));
    const nh = unit(h1);
    const ne = unit(e1);
    const sh = Math.hypot(...h1);
    const se = Math.hypot(...e1);
    for (let i = 0; i < n; i++) {
      W[i * 2] *= sh;
      W[i * 2 + 1] *= se;
    }
    const moved = 1 - Math.min(dot(nh, h), dot(ne, e));
    h = nh;
    e = ne;
    if (moved < 1e-9) break;
  }
  return orderHE(h, e);
}

export function estimateVahadane(od: Float64Array, background: Vec3, o: VahadaneOptions = {}): StainMatrix {
  const [h, e] = vahadaneStains(od, o);
  return { method: 'vahadane', h, e, maxConc: maxConcentrations(od, h, e), background };
}
