/** Separable Gaussian blur on a float image, edges clamped (scikit-image's mode='nearest'), kernel truncated at 4σ. */
import type { GrayImage } from './types.ts';

export function gaussianKernel(sigma: number): Float32Array {
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
 * Separable blur. Each output keeps the original summation order (taps left to right in float64 for the
 * row pass; taps top to bottom rounded to float32 after every add for the column pass), so results are
 * bit-identical to the straightforward loops. Four outputs are computed side by side: their add chains
 * are independent, which hides the floating-point add latency that bounded the one-output-at-a-time loop.
 */
export function gaussianBlur(img: GrayImage, sigma: number): GrayImage {
  if (!(sigma > 0)) return { data: img.data.slice(), width: img.width, height: img.height };
  const { width: w, height: h } = img;
  const k = Float64Array.from(gaussianKernel(sigma));
  const n = k.length;
  const r = (n - 1) >> 1;
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
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < n; i++) {
        const kv = k[i];
        const j = x + i;
        s0 += kv * pad[j];
        s1 += kv * pad[j + 1];
        s2 += kv * pad[j + 2];
        s3 += kv * pad[j + 3];
      }
      tmp[row + x] = s0;
      tmp[row + x + 1] = s1;
      tmp[row + x + 2] = s2;
      tmp[row + x + 3] = s3;
    }
    for (; x < w; x++) {
      let s = 0;
      for (let i = 0; i < n; i++) s += k[i] * pad[x + i];
      tmp[row + x] = s;
    }
  }
  // Column pass: offsets of the (clamped) source rows of each tap, then four columns at a time.
  const rows = new Int32Array(n);
  const fround = Math.fround;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let i = 0; i < n; i++) {
      const yy = y + i - r;
      rows[i] = (yy < 0 ? 0 : yy >= h ? h - 1 : yy) * w;
    }
    let x = 0;
    for (; x + 4 <= w; x += 4) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let i = 0; i < n; i++) {
        const kv = k[i];
        const j = rows[i] + x;
        s0 = fround(s0 + kv * tmp[j]);
        s1 = fround(s1 + kv * tmp[j + 1]);
        s2 = fround(s2 + kv * tmp[j + 2]);
        s3 = fround(s3 + kv * tmp[j + 3]);
      }
      out[row + x] = s0;
      out[row + x + 1] = s1;
      out[row + x + 2] = s2;
      out[row + x + 3] = s3;
    }
    for (; x < w; x++) {
      let s = 0;
      for (let i = 0; i < n; i++) s = fround(s + k[i] * tmp[rows[i] + x]);
      out[row + x] = s;
    }
  }
  return { data: out, width: w, height: h };
}
