/**
 * Watershed markers: regional maxima of a surface (usually the distance transform) that are at least
 * `minDistance` apart (Chebyshev, as scikit-image's peak_local_max with p_norm=inf) and, when h > 0,
 * whose dynamic is at least h (h-maxima: morphological reconstruction by dilation of f − h under f).
 */
import type { GrayImage } from './types.ts';

/** Sliding maximum over a (2r+1)² square, edges clamped (mode='nearest'). */
export function maxFilter(img: GrayImage, r: number): Float32Array {
  const { width: w, height: h, data } = img;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      const x0 = x - r < 0 ? 0 : x - r;
      const x1 = x + r >= w ? w - 1 : x + r;
      let m = data[row + x0];
      for (let xx = x0 + 1; xx <= x1; xx++) if (data[row + xx] > m) m = data[row + xx];
      tmp[row + x] = m;
    }
  }
  for (let y = 0; y < h; y++) {
    const y0 = y - r < 0 ? 0 : y - r;
    const y1 = y + r >= h ? h - 1 : y + r;
    const row = y * w;
    out.set(tmp.subarray(y0 * w, y0 * w + w), row);
    for (let yy = y0 + 1; yy <= y1; yy++) {
      const src = yy * w;
      for (let x = 0; x < w; x++) if (tmp[src + x] > out[row + x]) out[row + x] = tmp[src + x];
    }
  }
  return out;
}

/**
 * Grey-scale reconstruction by dilation of `marker` under `mask` (8-connected), Vincent's (1993)
 * hybrid algorithm: one forward and one backward raster scan, then a FIFO queue for the rest.
 */
export function reconstructByDilation(
  marker: Float32Array,
  mask: Float32Array,
  w: number,
  h: number,
): Float32Array {
  const J = new Float32Array(marker.length);
  for (let i = 0; i < J.length; i++) J[i] = Math.min(marker[i], mask[i]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const p = y * w + x;
      let m = J[p];
      if (x > 0 && J[p - 1] > m) m = J[p - 1];
      if (y > 0) {
        const u = p - w;
        if (J[u] > m) m = J[u];
        if (x > 0 && J[u - 1] > m) m = J[u - 1];
        if (x < w - 1 && J[u + 1] > m) m = J[u + 1];
      }
      J[p] = m < mask[p] ? m : mask[p];
    }
  }
  const queue = new Int32Array(w * h);
  let qTail = 0;
  const back = [1, w - 1, w, w + 1];
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const p = y * w + x;
      let m = J[p];
      const hasR = x < w - 1;
      const hasD = y < h - 1;
      if (hasR && J[p + 1] > m) m = J[p + 1];
      if (hasD) {
        if (x > 0 && J[p + w - 1] > m) m = J[p + w - 1];
        if (J[p + w] > m) m = J[p + w];
        if (hasR && J[p + w + 1] > m) m = J[p + w + 1];
      }
      J[p] = m < mask[p] ? m : mask[p];
      for (const off of back) {
        if ((off === 1 || off === w + 1) && !hasR) continue;
        if (off === w - 1 && x === 0) continue;
        if (off !== 1 && !hasD) continue;
        const q = p + off;
        if (J[q] < J[p] && J[q] < mask[q]) {
          queue[qTail++] = p;
          break;
        }
      }
    }
  }
  // FIFO propagation; a ring buffer bounded by the pixel count (a pixel can be queued more than once).
  const ring = new Int32Array(w * h + 1);
  let head = 0;
  let tail = 0;
  let size = 0;
  for (let i = 0; i < qTail; i++) {
    ring[tail] = queue[i];
    tail = (tail + 1) % ring.length;
    size++;
  }
  while (size > 0) {
    const p = ring[head];
    head = (head + 1) % ring.length;
    size--;
    const x = p % w;
    const y = (p - x) / w;
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy;
      if (yy < 0 || yy >= h) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        if ((dx === 0 && dy === 0) || xx < 0 || xx >= w) continue;
        const q = yy * w + xx;
        if (J[q] < J[p] && mask[q] !== J[q]) {
          J[q] = J[p] < mask[q] ? J[p] : mask[q];
          if (size < ring.length) {
            ring[tail] = q;
            tail = (tail + 1) % ring.length;
            size++;
          }
        }
      }
    }
  }
  return J;
}

export interface MarkerOptions {
  /** Minimum Chebyshev distance between markers in pixels (peak_local_max's min_distance). */
  minDistance: number;
  /** Minimum dynamic (height above the saddle to a higher peak) of a kept maximum; 0 keeps all. */
  h?: number;
  /** Only pixels with mask = 1 can hold markers. */
  mask?: Uint8Array;
}

/**
 * Regional maxima: 8-connected plateaus with no higher neighbour. Returns one pixel per plateau
 * (the one where `rank` is highest), so a flattened h-maxima plateau yields a single marker.
 */
export function regionalMaxima(
  f: Float32Array,
  w: number,
  h: number,
  rank: Float32Array,
  mask?: Uint8Array,
): number[] {
  const seen = new Uint8Array(w * h);
  const stack = new Int32Array(w * h);
  const out: number[] = [];
  for (let s = 0; s < f.length; s++) {
    if (seen[s] || (mask && !mask[s])) continue;
    const v = f[s];
    let top = 0;
    stack[top++] = s;
    seen[s] = 1;
    let isMax = true;
    let best = s;
    const members: number[] = [];
    while (top > 0) {
      const p = stack[--top];
      members.push(p);
      if (rank[p] > rank[best]) best = p;
      const x = p % w;
      const y = (p - x) / w;
      for (let dy = -1; dy <= 1; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const xx = x + dx;
          if (xx < 0 || xx >= w) continue;
          const q = yy * w + xx;
          if (f[q] > v) isMax = false;
          else if (f[q] === v && !seen[q]) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    }
    if (isMax) out.push(best);
  }
  return out;
}

/** Marker pixel indices, highest surface value first. */
export function findMarkers(surface: GrayImage, o: MarkerOptions): Int32Array {
  const { width: w, height: h } = surface;
  const orig = surface.data;
  const r = Math.max(1, Math.round(o.minDistance));
  let floor = Number.POSITIVE_INFINITY;
  for (let i = 0; i < orig.length; i++) if (orig[i] < floor) floor = orig[i];
  let cand: number[];
  if (o.h && o.h > 0) {
    const lowered = new Float32Array(orig.length);
    for (let i = 0; i < orig.length; i++) lowered[i] = orig[i] - o.h;
    const rec = reconstructByDilation(lowered, orig, w, h);
    cand = regionalMaxima(rec, w, h, orig, o.mask).filter((p) => orig[p] > floor);
  } else {
    // peak_local_max: a pixel equal to the maximum of its (2r+1)² window and above the image minimum.
    const mx = maxFilter(surface, r);
    cand = [];
    for (let i = 0; i < orig.length; i++) {
      if (orig[i] === mx[i] && orig[i] > floor && (!o.mask || o.mask[i])) cand.push(i);
    }
  }
  // Highest first; ties keep raster order (a stable sort), as scikit-image does.
  cand.sort((a, b) => orig[b] - orig[a] || a - b);
  const taken = new Uint8Array(w * h);
  const kept: number[] = [];
  for (const p of cand) {
    const x = p % w;
    const y = (p - x) / w;
    let clash = false;
    for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r) && !clash; yy++) {
      for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) {
        if (taken[yy * w + xx]) {
          clash = true;
          break;
        }
      }
    }
    if (clash) continue;
    taken[p] = 1;
    kept.push(p);
  }
  return Int32Array.from(kept);
}
