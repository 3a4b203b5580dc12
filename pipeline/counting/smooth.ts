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

export function gaussianBlur(img: GrayImage, sigma: number): GrayImage {
  if (!(sigma > 0)) return { data: img.data.slice(), width: img.width, height: img.height };
  const { width: w, height: h } = img;
  const k = gaussianKernel(sigma);
  const r = (k.length - 1) >> 1;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const src = img.data;
  // Horizontal pass: interior without bounds checks, clamped edges separately.
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let s = 0;
      if (x >= r && x < w - r) {
        const base = row + x - r;
        for (let i = 0; i < k.length; i++) s += k[i] * src[base + i];
      } else {
        for (let i = -r; i <= r; i++) {
          const xx = x + i < 0 ? 0 : x + i >= w ? w - 1 : x + i;
          s += k[i + r] * src[row + xx];
        }
      }
      tmp[row + x] = s;
    }
  }
  // Vertical pass, accumulated row by row for cache-friendly access.
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let i = -r; i <= r; i++) {
      const yy = y + i < 0 ? 0 : y + i >= h ? h - 1 : y + i;
      const kv = k[i + r];
      const srow = yy * w;
      for (let x = 0; x < w; x++) out[row + x] += kv * tmp[srow + x];
    }
  }
  return { data: out, width: w, height: h };
}
