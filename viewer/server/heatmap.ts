/**
 * Patch-value heatmaps: one pixel per patch on the run's patch grid, viridis-coloured, alpha 0
 * where there is no patch (background, no tissue). The grid's level-0 bounds are returned so the
 * client can place the image exactly over the slide.
 */
import sharp from 'sharp';
import { colourOf } from '../../pipeline/imaging/viridis.ts';
import type { PatchCell } from '../../pipeline/store/viewer-queries.ts';

/** Largest heatmap side in pixels (patches): a 250,000 px slide at a 64 px stride (64 MiB of RGBA). */
export const MAX_HEATMAP_SIDE = 4096;

export interface HeatmapGrid {
  /** Level-0 position and size of the whole heatmap image (pixel i spans stride px). */
  x: number;
  y: number;
  width: number;
  height: number;
  columns: number;
  rows: number;
  strideX: number;
  strideY: number;
  patches: number;
  /**
   * 'point': one pixel per patch, centred on it (dense grids, FCN score maps).
   * 'footprint': a sparse sample of large patches on a fine lattice; each patch paints its whole
   * footprint (highest values on top), so a 272-px patch shows as a 272-px square, not a dot.
   */
  mode: 'point' | 'footprint';
  /** Range of the values drawn (the colour map spans [lo, hi]). */
  min: number;
  max: number;
  lo: number;
  hi: number;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Grid step along one axis: the greatest common divisor of the patch offsets (so every patch lands
 * exactly on a grid line), reduced to its largest divisor not above the patch size (a missing row of
 * background patches must not double the step). Never below 1/16 of a patch: positions off any
 * lattice (random sampling) then snap by at most 1/32 of a patch.
 */
function gridStep(values: number[], patchSize: number): number {
  let min = Number.POSITIVE_INFINITY;
  for (const v of values) min = Math.min(min, v);
  let g = 0;
  for (const v of new Set(values)) g = gcd(g, Math.round(v - min));
  const floor = Math.max(1, Math.round(patchSize / 16));
  if (g === 0) return patchSize;
  let best = 0;
  for (let d = 1; d * d <= g; d++) {
    if (g % d !== 0) continue;
    for (const q of [d, g / d]) if (q <= patchSize && q > best) best = q;
  }
  return Math.max(best, floor);
}

export function heatmapGrid(cells: PatchCell[], range?: { lo: number; hi: number }): HeatmapGrid | undefined {
  if (cells.length === 0) return undefined;
  const strideX = gridStep(
    cells.map((c) => c.x),
    cells[0].width,
  );
  const strideY = gridStep(
    cells.map((c) => c.y),
    cells[0].height,
  );
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const c of cells) {
    minX = Math.min(minX, c.x);
    minY = Math.min(minY, c.y);
    maxX = Math.max(maxX, c.x);
    maxY = Math.max(maxY, c.y);
    min = Math.min(min, c.value);
    max = Math.max(max, c.value);
  }
  const w0 = cells[0].width;
  const h0 = cells[0].height;
  const lo = range?.lo ?? Math.min(0, min);
  const hi = range?.hi ?? Math.max(1, max);
  const stats = { strideX, strideY, patches: cells.length, min, max, lo, hi };
  const columns = Math.round((maxX - minX) / strideX) + 1;
  const rows = Math.round((maxY - minY) / strideY) + 1;
  // Few patches on a lattice much finer than the patches (e.g. MIL bags sampled from an FCN grid):
  // one pixel per patch would shrink each patch to a dot, so paint footprints instead.
  const sparse = cells.length < 0.25 * columns * rows && (w0 > 1.5 * strideX || h0 > 1.5 * strideY);
  if (sparse) {
    const fw = Math.ceil((maxX + w0 - minX) / strideX);
    const fh = Math.ceil((maxY + h0 - minY) / strideY);
    return {
      x: minX,
      y: minY,
      width: fw * strideX,
      height: fh * strideY,
      columns: fw,
      rows: fh,
      mode: 'footprint',
      ...stats,
    };
  }
  // Pixel centres sit on patch centres: when patches overlap (stride < size) the pixel is the
  // stride-sized cell around the centre.
  return {
    x: minX + (w0 - strideX) / 2,
    y: minY + (h0 - strideY) / 2,
    width: columns * strideX,
    height: rows * strideY,
    columns,
    rows,
    mode: 'point',
    ...stats,
  };
}

/** RGBA pixels of the heatmap (alpha 0 where there is no patch). */
export function heatmapPixels(cells: PatchCell[], grid: HeatmapGrid): Uint8Array {
  const out = new Uint8Array(grid.columns * grid.rows * 4);
  const span = grid.hi - grid.lo || 1;
  const paint = (i: number, j: number, rgb: [number, number, number]) => {
    if (i < 0 || j < 0 || i >= grid.columns || j >= grid.rows) return;
    const o = (j * grid.columns + i) * 4;
    out[o] = rgb[0];
    out[o + 1] = rgb[1];
    out[o + 2] = rgb[2];
    out[o + 3] = 255;
  };
  if (grid.mode === 'footprint') {
    // Ascending values, so where footprints overlap the highest value is the one seen.
    for (const c of [...cells].sort((a, b) => a.value - b.value)) {
      const rgb = colourOf((c.value - grid.lo) / span);
      const i0 = Math.round((c.x - grid.x) / grid.strideX);
      const j0 = Math.round((c.y - grid.y) / grid.strideY);
      const i1 = Math.round((c.x + c.width - grid.x) / grid.strideX);
      const j1 = Math.round((c.y + c.height - grid.y) / grid.strideY);
      for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) paint(i, j, rgb);
    }
    return out;
  }
  const originX = grid.x - (cells[0].width - grid.strideX) / 2;
  const originY = grid.y - (cells[0].height - grid.strideY) / 2;
  for (const c of cells) {
    paint(
      Math.round((c.x - originX) / grid.strideX),
      Math.round((c.y - originY) / grid.strideY),
      colourOf((c.value - grid.lo) / span),
    );
  }
  return out;
}

export async function heatmapPng(cells: PatchCell[], grid: HeatmapGrid): Promise<Buffer> {
  return sharp(heatmapPixels(cells, grid), { raw: { width: grid.columns, height: grid.rows, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
