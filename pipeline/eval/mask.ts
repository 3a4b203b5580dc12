/**
 * Binary-image operations for the CAMELYON16 evaluation mask, on a small window of a low-resolution
 * level: polygon rasterisation, exact Euclidean distance transform, hole filling, 8-connected labelling
 * and the regionprops major axis. Each matches what scipy.ndimage / skimage.measure compute.
 */
import { EDT_INFINITY, lowerEnvelope1d } from '../imaging/lower-envelope.ts';

/** A window of a level: pixel (i, j) of the grid is level pixel (originX + i, originY + j). */
export interface Grid<T extends Uint8Array | Int32Array | Float64Array> {
  originX: number;
  originY: number;
  width: number;
  height: number;
  data: T;
}

export type Polygon = readonly (readonly [number, number])[];

/**
 * Fills polygons (level-0 coordinates) into a level grid by the even–odd rule at pixel centres.
 * A polygon too small to cover any pixel centre still marks the pixel under its vertex centroid, so an
 * isolated tumour cell never vanishes from the mask (a detection on it must be ignored, not be an FP).
 */
export function rasterisePolygons(
  grid: Grid<Uint8Array>,
  polygons: readonly Polygon[],
  downsample: number,
  value = 1,
): void {
  for (const poly of polygons) {
    if (poly.length < 3) continue;
    let minY = Number.POSITIVE_INFINITY;
    let maxY = Number.NEGATIVE_INFINITY;
    for (const [, y] of poly) {
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
    let filled = 0;
    const j0 = Math.max(grid.originY, Math.floor(minY / downsample - 0.5));
    const j1 = Math.min(grid.originY + grid.height - 1, Math.ceil(maxY / downsample));
    const xs: number[] = [];
    for (let j = j0; j <= j1; j++) {
      const cy = (j + 0.5) * downsample;
      xs.length = 0;
      for (let k = 0; k < poly.length; k++) {
        const [ax, ay] = poly[k];
        const [bx, by] = poly[(k + 1) % poly.length];
        // Half-open rule: an edge counts when the scanline lies in [min y, max y).
        if ((ay <= cy && by > cy) || (by <= cy && ay > cy)) xs.push(ax + ((cy - ay) / (by - ay)) * (bx - ax));
      }
      xs.sort((p, q) => p - q);
      for (let k = 0; k + 1 < xs.length; k += 2) {
        // Pixel i has centre (i + 0.5)·d: inside when xs[k] <= centre < xs[k+1].
        const iStart = Math.max(grid.originX, Math.ceil(xs[k] / downsample - 0.5));
        const iEnd = Math.min(grid.originX + grid.width - 1, Math.ceil(xs[k + 1] / downsample - 0.5) - 1);
        for (let i = iStart; i <= iEnd; i++) {
          grid.data[(j - grid.originY) * grid.width + (i - grid.originX)] = value;
          filled++;
        }
      }
    }
    if (filled === 0) {
      let cx = 0;
      let cy = 0;
      for (const [x, y] of poly) {
        cx += x;
        cy += y;
      }
      const i = Math.floor(cx / poly.length / downsample) - grid.originX;
      const j = Math.floor(cy / poly.length / downsample) - grid.originY;
      if (i >= 0 && j >= 0 && i < grid.width && j < grid.height) grid.data[j * grid.width + i] = value;
    }
  }
}

/**
 * Squared Euclidean distance from every pixel to the nearest non-zero pixel of `seeds`
 * (Felzenszwalb & Huttenlocher's separable lower-envelope algorithm; exact, as scipy's distance_transform_edt).
 */
export function squaredDistanceToSeeds(seeds: Grid<Uint8Array>): Float64Array {
  const { width: w, height: h } = seeds;
  const d = new Float64Array(w * h);
  for (let k = 0; k < w * h; k++) d[k] = seeds.data[k] ? 0 : EDT_INFINITY;
  const n = Math.max(w, h);
  const f = new Float64Array(n);
  const out = new Float64Array(n);
  const v = new Int32Array(n);
  const z = new Float64Array(n + 1);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) f[y] = d[y * w + x];
    lowerEnvelope1d(f, h, out, v, z);
    for (let y = 0; y < h; y++) d[y * w + x] = out[y];
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) f[x] = d[y * w + x];
    lowerEnvelope1d(f, w, out, v, z);
    for (let x = 0; x < w; x++) d[y * w + x] = out[x];
  }
  return d;
}

/** Sets every zero pixel that is not 4-connected to the grid border to 1 (scipy's binary_fill_holes). */
export function fillHoles(mask: Uint8Array, w: number, h: number): void {
  const outside = new Uint8Array(w * h);
  const stack: number[] = [];
  const push = (k: number): void => {
    if (!mask[k] && !outside[k]) {
      outside[k] = 1;
      stack.push(k);
    }
  };
  for (let x = 0; x < w; x++) {
    push(x);
    push((h - 1) * w + x);
  }
  for (let y = 0; y < h; y++) {
    push(y * w);
    push(y * w + w - 1);
  }
  while (stack.length) {
    const k = stack.pop()!;
    const x = k % w;
    const y = (k - x) / w;
    if (x > 0) push(k - 1);
    if (x < w - 1) push(k + 1);
    if (y > 0) push(k - w);
    if (y < h - 1) push(k + w);
  }
  for (let k = 0; k < w * h; k++) if (!mask[k] && !outside[k]) mask[k] = 1;
}

/** 8-connected component labels 1..n, numbered in raster order of each component's first pixel (as skimage.measure.label). */
export function label8(mask: Uint8Array, w: number, h: number): { labels: Int32Array; count: number } {
  const labels = new Int32Array(w * h);
  let count = 0;
  const stack: number[] = [];
  for (let start = 0; start < w * h; start++) {
    if (!mask[start] || labels[start]) continue;
    count++;
    labels[start] = count;
    stack.push(start);
    while (stack.length) {
      const k = stack.pop()!;
      const x = k % w;
      const y = (k - x) / w;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          const n = yy * w + xx;
          if (mask[n] && !labels[n]) {
            labels[n] = count;
            stack.push(n);
          }
        }
      }
    }
  }
  return { labels, count };
}

/**
 * Major axis length of each label 1..count: 4·sqrt(largest eigenvalue of the covariance of its pixel
 * coordinates), the second-moment definition skimage.measure.regionprops uses. Index 0 is unused.
 */
export function majorAxisLengths(labels: Int32Array, w: number, h: number, count: number): Float64Array {
  const n = new Float64Array(count + 1);
  const sx = new Float64Array(count + 1);
  const sy = new Float64Array(count + 1);
  const sxx = new Float64Array(count + 1);
  const syy = new Float64Array(count + 1);
  const sxy = new Float64Array(count + 1);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const l = labels[y * w + x];
      if (!l) continue;
      n[l]++;
      sx[l] += x;
      sy[l] += y;
      sxx[l] += x * x;
      syy[l] += y * y;
      sxy[l] += x * y;
    }
  }
  const out = new Float64Array(count + 1);
  for (let l = 1; l <= count; l++) {
    const mx = sx[l] / n[l];
    const my = sy[l] / n[l];
    const a = sxx[l] / n[l] - mx * mx;
    const c = syy[l] / n[l] - my * my;
    const b = sxy[l] / n[l] - mx * my;
    const largest = (a + c) / 2 + Math.sqrt(((a - c) / 2) ** 2 + b * b);
    out[l] = 4 * Math.sqrt(Math.max(0, largest));
  }
  return out;
}
