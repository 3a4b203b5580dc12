/**
 * Watershed markers: regional maxima of a surface (usually the distance transform) that are at least
 * `minDistance` apart (Chebyshev, as scikit-image's peak_local_max with p_norm=inf) and, when h > 0,
 * whose dynamic is at least h (h-maxima: morphological reconstruction by dilation of f − h under f).
 */
import type { GrayImage } from './types.ts';

/**
 * Running maximum over windows of 2r+1 samples along one line (van Herk / Gil & Werman: about three
 * comparisons per sample whatever r). The line is read from `src` at `off + i·stride` (i < n), padded with
 * −∞ on both sides so windows at the ends are clamped; `g` and `b` are scratch of at least n + 2r + 2r+1.
 */
function lineMax(
  src: Float32Array,
  off: number,
  stride: number,
  n: number,
  r: number,
  dst: Float32Array,
  g: Float32Array,
  b: Float32Array,
): void {
  const k = 2 * r + 1;
  const len = Math.ceil((n + 2 * r) / k) * k;
  for (let i = 0; i < len; i++) {
    const j = i - r;
    g[i] = j >= 0 && j < n ? src[off + j * stride] : Number.NEGATIVE_INFINITY;
  }
  // b: maxima from each sample to the end of its block; g: from the start of its block.
  for (let s = 0; s < len; s += k) {
    b[s + k - 1] = g[s + k - 1];
    for (let i = s + k - 2; i >= s; i--) b[i] = g[i] > b[i + 1] ? g[i] : b[i + 1];
    for (let i = s + 1; i < s + k; i++) if (g[i - 1] > g[i]) g[i] = g[i - 1];
  }
  // The window of output j is padded samples j..j+2r: the end of one block joined to the start of the next.
  for (let j = 0; j < n; j++) {
    const a = b[j];
    const c = g[j + 2 * r];
    dst[off + j * stride] = a > c ? a : c;
  }
}

/** Sliding maximum over a (2r+1)² square, edges clamped (mode='nearest'). */
export function maxFilter(img: GrayImage, r: number): Float32Array {
  const { width: w, height: h, data } = img;
  const tmp = new Float32Array(w * h);
  const g = new Float32Array(Math.max(w, h) + 4 * r + 2);
  const b = new Float32Array(g.length);
  for (let y = 0; y < h; y++) lineMax(data, y * w, 1, w, r, tmp, g, b);
  // Columns: the same block scheme applied to whole rows, so every pass reads memory contiguously
  // (a column at a time would touch one cache line per pixel).
  const k = 2 * r + 1;
  const len = Math.ceil((h + 2 * r) / k) * k;
  const G = new Float32Array(len * w).fill(Number.NEGATIVE_INFINITY);
  G.set(tmp, r * w);
  const B = new Float32Array(len * w);
  for (let s = 0; s < len; s += k) {
    const endRow = (s + k - 1) * w;
    B.set(G.subarray(endRow, endRow + w), endRow);
    for (let i = s + k - 2; i >= s; i--) {
      const row = i * w;
      for (let x = 0; x < w; x++) {
        const a = G[row + x];
        const c = B[row + w + x];
        B[row + x] = a > c ? a : c;
      }
    }
    for (let i = s + 1; i < s + k; i++) {
      const row = i * w;
      for (let x = 0; x < w; x++) if (G[row - w + x] > G[row + x]) G[row + x] = G[row - w + x];
    }
  }
  const out = new Float32Array(w * h);
  const lag = 2 * r * w;
  for (let p = 0; p < out.length; p++) {
    const a = B[p];
    const c = G[p + lag];
    out[p] = a > c ? a : c;
  }
  return out;
}

/**
 * Grey-scale reconstruction by dilation of `marker` under `mask` (8-connected), Vincent's (1993)
 * hybrid algorithm: one forward and one backward raster scan, then a FIFO queue for the rest.
 */
function reconstructByDilation(marker: Float32Array, mask: Float32Array, w: number, h: number): Float32Array {
  const J = new Float32Array(marker.length);
  for (let i = 0; i < J.length; i++) J[i] = marker[i] < mask[i] ? marker[i] : mask[i];
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
  // A pixel can be queued more than once; a ring bounded by the pixel count holds the FIFO.
  const cap = w * h + 1;
  const ring = new Int32Array(cap);
  let head = 0;
  let tail = 0;
  let size = 0;
  for (let y = h - 1; y >= 0; y--) {
    for (let x = w - 1; x >= 0; x--) {
      const p = y * w + x;
      let m = J[p];
      const hasR = x < w - 1;
      const hasL = x > 0;
      const hasD = y < h - 1;
      if (hasR && J[p + 1] > m) m = J[p + 1];
      if (hasD) {
        if (hasL && J[p + w - 1] > m) m = J[p + w - 1];
        if (J[p + w] > m) m = J[p + w];
        if (hasR && J[p + w + 1] > m) m = J[p + w + 1];
      }
      const v = m < mask[p] ? m : mask[p];
      J[p] = v;
      // Queue p when a backward neighbour can still rise towards it.
      let q = p + 1;
      let rise = hasR && J[q] < v && J[q] < mask[q];
      if (!rise && hasD) {
        q = p + w - 1;
        rise = hasL && J[q] < v && J[q] < mask[q];
        q = p + w;
        rise ||= J[q] < v && J[q] < mask[q];
        q = p + w + 1;
        rise ||= hasR && J[q] < v && J[q] < mask[q];
      }
      if (rise) {
        ring[tail++] = p;
        size++;
      }
    }
  }
  while (size > 0) {
    const p = ring[head++];
    if (head === cap) head = 0;
    size--;
    const x = p % w;
    const y = (p - x) / w;
    const y0 = y > 0 ? y - 1 : 0;
    const y1 = y < h - 1 ? y + 1 : y;
    const x0 = x > 0 ? x - 1 : 0;
    const x1 = x < w - 1 ? x + 1 : x;
    const jp = J[p];
    for (let yy = y0; yy <= y1; yy++) {
      for (let xx = x0; xx <= x1; xx++) {
        const q = yy * w + xx;
        if (q !== p && J[q] < jp && mask[q] !== J[q]) {
          J[q] = jp < mask[q] ? jp : mask[q];
          if (size < cap) {
            ring[tail++] = q;
            if (tail === cap) tail = 0;
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
function regionalMaxima(
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
    while (top > 0) {
      const p = stack[--top];
      if (rank[p] > rank[best]) best = p;
      const x = p % w;
      const y = (p - x) / w;
      const y0 = y > 0 ? y - 1 : 0;
      const y1 = y < h - 1 ? y + 1 : y;
      const x0 = x > 0 ? x - 1 : 0;
      const x1 = x < w - 1 ? x + 1 : x;
      for (let yy = y0; yy <= y1; yy++) {
        for (let xx = x0; xx <= x1; xx++) {
          const q = yy * w + xx;
          const fq = f[q];
          if (fq > v) isMax = false;
          else if (fq === v && !seen[q]) {
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
