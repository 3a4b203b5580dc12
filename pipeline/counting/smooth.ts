/** Separable Gaussian blur on a float image, edges clamped (scikit-image's mode='nearest'), kernel truncated at 4σ. */
import type { GrayImage } from './types.ts';

function gaussianKernel(sigma: number): Float32Array {
  const radius = Math.max(1, Math.ceil(4 * sigma));
  const k = new Float32Array(2 * radius + 1);
  let sum = 0;
  for (let i = -radius; i <= radius; i++) {
    const v = Math.exp((-0.5 * i * i) / (sigma * sigma));
    k[i + radius] = v;
    sum += v;
  }
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  return k;
}

/**
 * Separable blur in float64 per output. The kernel is symmetric, so taps at ±i share one multiply
 * (k_i·(a + b)): half the multiplies of the plain loop. Results differ from plain tap-by-tap sums by a
 * float32 ulp or two (≤ 1.2e-5 on 0–255 data); on the 32 bench images × 4 settings the counts were unchanged.
 * Four outputs are computed side by side: their add chains are independent, which hides the add latency.
 */
export function gaussianBlur(img: GrayImage, sigma: number): GrayImage {
  if (!(sigma > 0)) return { data: img.data.slice(), width: img.width, height: img.height };
  const { width: w, height: h } = img;
  const k = Float64Array.from(gaussianKernel(sigma));
  const n = k.length;
  const r = (n - 1) >> 1;
  const kc = k[r];
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const src = img.data;
  // Row pass over a copy of the row padded with its edge values (mode='nearest'): no bounds tests inside.
  const pad = new Float64Array(w + 2 * r + 4);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    const first = src[row];
    const last = src[row + w - 1];
    for (let i = 0; i < r; i++) {
      pad[i] = first;
      pad[r + w + i] = last;
    }
    for (let x = 0; x < w; x++) pad[r + x] = src[row + x];
    let x = 0;
    for (; x + 4 <= w; x += 4) {
      const c = x + r;
      let s0 = kc * pad[c];
      let s1 = kc * pad[c + 1];
      let s2 = kc * pad[c + 2];
      let s3 = kc * pad[c + 3];
      for (let i = 1; i <= r; i++) {
        const kv = k[r + i];
        const a = c - i;
        const b = c + i;
        s0 += kv * (pad[a] + pad[b]);
        s1 += kv * (pad[a + 1] + pad[b + 1]);
        s2 += kv * (pad[a + 2] + pad[b + 2]);
        s3 += kv * (pad[a + 3] + pad[b + 3]);
      }
      tmp[row + x] = s0;
      tmp[row + x + 1] = s1;
      tmp[row + x + 2] = s2;
      tmp[row + x + 3] = s3;
    }
    for (; x < w; x++) {
      const c = x + r;
      let s = kc * pad[c];
      for (let i = 1; i <= r; i++) s += k[r + i] * (pad[c - i] + pad[c + i]);
      tmp[row + x] = s;
    }
  }
  // Column pass: offsets of the (clamped) source rows of each tap, then four columns at a time.
  const rows = new Int32Array(n);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let i = 0; i < n; i++) {
      const yy = y + i - r;
      rows[i] = (yy < 0 ? 0 : yy >= h ? h - 1 : yy) * w;
    }
    const mid = rows[r];
    let x = 0;
    for (; x + 4 <= w; x += 4) {
      let s0 = kc * tmp[mid + x];
      let s1 = kc * tmp[mid + x + 1];
      let s2 = kc * tmp[mid + x + 2];
      let s3 = kc * tmp[mid + x + 3];
      for (let i = 1; i <= r; i++) {
        const kv = k[r + i];
        const a = rows[r - i] + x;
        const b = rows[r + i] + x;
        s0 += kv * (tmp[a] + tmp[b]);
        s1 += kv * (tmp[a + 1] + tmp[b + 1]);
        s2 += kv * (tmp[a + 2] + tmp[b + 2]);
        s3 += kv * (tmp[a + 3] + tmp[b + 3]);
      }
      out[row + x] = s0;
      out[row + x + 1] = s1;
      out[row + x + 2] = s2;
      out[row + x + 3] = s3;
    }
    for (; x < w; x++) {
      let s = kc * tmp[mid + x];
      for (let i = 1; i <= r; i++) s += k[r + i] * (tmp[rows[r - i] + x] + tmp[rows[r + i] + x]);
      out[row + x] = s;
    }
  }
  return { data: out, width: w, height: h };
}
