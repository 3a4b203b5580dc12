/** Foreground masks: Otsu's global threshold or a local-mean adaptive threshold (integral image). */
import type { GrayImage } from './types.ts';

/** Otsu (1979) on a 256-bin histogram spanning the image's range; returns the threshold value. */
export function otsuThreshold(img: GrayImage, bins = 256): number {
  const d = img.data;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < d.length; i++) {
    if (d[i] < lo) lo = d[i];
    if (d[i] > hi) hi = d[i];
  }
  if (!(hi > lo)) return lo;
  const hist = new Float64Array(bins);
  const scale = bins / (hi - lo);
  const counts = new Int32Array(bins);
  const top = bins - 1;
  for (let i = 0; i < d.length; i++) {
    // (d − lo)·scale ≥ 0, so truncation is floor.
    const b = ((d[i] - lo) * scale) | 0;
    counts[b > top ? top : b]++;
  }
  for (let b = 0; b < bins; b++) hist[b] = counts[b];
  const width = (hi - lo) / bins;
  const centre = (b: number) => lo + (b + 0.5) * width;
  let total = 0;
  let sumAll = 0;
  for (let b = 0; b < bins; b++) {
    total += hist[b];
    sumAll += hist[b] * centre(b);
  }
  let w0 = 0;
  let sum0 = 0;
  let best = -1;
  let bestB = 0;
  for (let b = 0; b < bins - 1; b++) {
    w0 += hist[b];
    sum0 += hist[b] * centre(b);
    const w1 = total - w0;
    if (w0 === 0 || w1 === 0) continue;
    const m0 = sum0 / w0;
    const m1 = (sumAll - sum0) / w1;
    const between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > best) {
      best = between;
      bestB = b;
    }
  }
  return centre(bestB);
}

/** Pixels strictly above `t` (as scikit-image's `image > threshold_otsu(image)`). */
export function above(img: GrayImage, t: number): Uint8Array {
  const m = new Uint8Array(img.data.length);
  for (let i = 0; i < m.length; i++) m[i] = img.data[i] > t ? 1 : 0;
  return m;
}

/**
 * Adaptive threshold: a pixel is foreground when it exceeds the mean of its (2r+1)² neighbourhood
 * by `offset` and the global floor `minValue` (so flat dark background is not split into noise).
 */
export function adaptiveMask(img: GrayImage, radius: number, offset: number, minValue = 0): Uint8Array {
  const { width: w, height: h, data } = img;
  const integral = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let rowSum = 0;
    for (let x = 0; x < w; x++) {
      rowSum += data[y * w + x];
      integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + rowSum;
    }
  }
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - radius);
    const y1 = Math.min(h, y + radius + 1);
    for (let x = 0; x < w; x++) {
      const x0 = Math.max(0, x - radius);
      const x1 = Math.min(w, x + radius + 1);
      const s =
        integral[y1 * (w + 1) + x1] -
        integral[y0 * (w + 1) + x1] -
        integral[y1 * (w + 1) + x0] +
        integral[y0 * (w + 1) + x0];
      const mean = s / ((y1 - y0) * (x1 - x0));
      const v = data[y * w + x];
      m[y * w + x] = v > mean + offset && v > minValue ? 1 : 0;
    }
  }
  return m;
}

/**
 * True when an image holds nothing but noise: the smoothed image's maximum rises less than `k` noise
 * standard deviations above its median. The noise is measured on the fine-scale residual (raw − smoothed)
 * as 1.4826 × its median absolute deviation, which does not depend on how many cells cover the image.
 * Otsu always splits an image in two, even an empty field of pure noise, so a counter asks this first.
 */
export function isBlank(raw: GrayImage, smoothed: GrayImage, k = 8): boolean {
  const n = raw.data.length;
  const sm = smoothed.data;
  const rd = raw.data;
  const step = Math.max(1, Math.floor(n / 16384));
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) if (sm[i] > max) max = sm[i];
  const m = Math.ceil(n / step);
  const values = new Float32Array(m);
  const residual = new Float32Array(m);
  for (let i = 0, j = 0; i < n; i += step, j++) {
    values[j] = sm[i];
    residual[j] = Math.abs(rd[i] - sm[i]);
  }
  const median = nthSmallest(values, m >> 1);
  const noise = 1.4826 * nthSmallest(residual, m >> 1);
  return max - median < k * Math.max(noise, 1e-6);
}

/** The k-th smallest value (0-based) by quickselect, reordering `a` in place: what sorting and indexing gives, in linear time. */
function nthSmallest(a: Float32Array, k: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    // Median of three as pivot; Hoare partition.
    const mid = (lo + hi) >> 1;
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return a[k];
  }
  return a[k];
}
