/**
 * Patch-value heatmaps: one pixel per patch on the run's patch grid, viridis-coloured, alpha 0
 * where there is no patch (background, no tissue). The grid's level-0 bounds are returned so the
 * client can place the image exactly over the slide.
 */
import sharp from 'sharp';
import type { PatchCell } from '../../pipeline/store/viewer-queries.ts';
import { colourOf } from './colormap.ts';

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
  /** Range of the values drawn (the colour map spans [lo, hi]). */
  min: number;
  max: number;
  lo: number;
  hi: number;
}

/**
 * Grid step along one axis: the smallest gap between distinct patch positions, but never more than
 * the patch size (a missing row of background patches must not double the step; patches sampled
 * sparser than their size then show as patch-sized pixels with gaps between them).
 */
function gridStep(values: number[], patchSize: number): number {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  let step = patchSize;
  for (let i = 1; i < sorted.length; i++) step = Math.min(step, sorted[i] - sorted[i - 1]);
  return step;
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
  const columns = Math.round((maxX - minX) / strideX) + 1;
  const rows = Math.round((maxY - minY) / strideY) + 1;
  // Pixel centres sit on patch centres: when patches overlap (stride < size) the pixel is the
  // stride-sized cell around the centre.
  const w0 = cells[0].width;
  const h0 = cells[0].height;
  const lo = range?.lo ?? Math.min(0, min);
  const hi = range?.hi ?? Math.max(1, max);
  return {
    x: minX + (w0 - strideX) / 2,
    y: minY + (h0 - strideY) / 2,
    width: columns * strideX,
    height: rows * strideY,
    columns,
    rows,
    strideX,
    strideY,
    patches: cells.length,
    min,
    max,
    lo,
    hi,
  };
}

/** RGBA pixels of the heatmap (alpha 0 where there is no patch). */
export function heatmapPixels(cells: PatchCell[], grid: HeatmapGrid): Uint8Array {
  const out = new Uint8Array(grid.columns * grid.rows * 4);
  const span = grid.hi - grid.lo || 1;
  const originX = grid.x - (cells[0].width - grid.strideX) / 2;
  const originY = grid.y - (cells[0].height - grid.strideY) / 2;
  for (const c of cells) {
    const i = Math.round((c.x - originX) / grid.strideX);
    const j = Math.round((c.y - originY) / grid.strideY);
    if (i < 0 || j < 0 || i >= grid.columns || j >= grid.rows) continue;
    const [r, g, b] = colourOf((c.value - grid.lo) / span);
    const o = (j * grid.columns + i) * 4;
    out[o] = r;
    out[o + 1] = g;
    out[o + 2] = b;
    out[o + 3] = 255;
  }
  return out;
}

export async function heatmapPng(cells: PatchCell[], grid: HeatmapGrid): Promise<Buffer> {
  return sharp(heatmapPixels(cells, grid), { raw: { width: grid.columns, height: grid.rows, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
