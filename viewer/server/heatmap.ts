/**
 * Patch-value heatmaps: one pixel per patch on the run's patch grid, viridis-coloured, alpha 0
 * where there is no patch (background, no tissue). The grid's level-0 bounds are returned so the
 * client can place the image exactly over the slide.
 */
import sharp from 'sharp';
import { colourOf } from '../../pipeline/imaging/viridis.ts';
import {
  type CellGrid,
  footprintCells,
  footprintLattice,
  latticeValues,
  type PatchLattice,
  patchLattice,
} from '../../pipeline/patches/lattice.ts';
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

/** The run's patch lattice (shared with `wsi export heatmap`) and, for sparse large patches, its footprint form. */
export function heatmapGrid(cells: PatchCell[], range?: { lo: number; hi: number }): HeatmapGrid | undefined {
  if (cells.length === 0) return undefined;
  const lattice = patchLattice(cells);
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const c of cells) {
    min = Math.min(min, c.value);
    max = Math.max(max, c.value);
  }
  const lo = range?.lo ?? Math.min(0, min);
  const hi = range?.hi ?? Math.max(1, max);
  const { stepX: strideX, stepY: strideY, columns, rows } = lattice;
  const stats = { strideX, strideY, patches: cells.length, min, max, lo, hi };
  // Few patches on a lattice much finer than the patches (e.g. MIL bags sampled from an FCN grid):
  // one pixel per patch would shrink each patch to a dot, so paint footprints instead.
  const sparse =
    cells.length < 0.25 * columns * rows &&
    (lattice.patchWidth > 1.5 * strideX || lattice.patchHeight > 1.5 * strideY);
  if (sparse) {
    const f = footprintLattice(cells, lattice);
    return {
      x: f.originX,
      y: f.originY,
      width: f.columns * strideX,
      height: f.rows * strideY,
      columns: f.columns,
      rows: f.rows,
      mode: 'footprint',
      ...stats,
    };
  }
  // Pixel centres sit on patch centres: when patches overlap (stride < size) the pixel is the
  // stride-sized cell around the centre.
  return {
    x: lattice.originX,
    y: lattice.originY,
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
    const f = cellGridOf(grid);
    for (const c of [...cells].sort((a, b) => a.value - b.value)) {
      const rgb = colourOf((c.value - grid.lo) / span);
      const [i0, j0, i1, j1] = footprintCells(f, c);
      for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) paint(i, j, rgb);
    }
    return out;
  }
  // The lattice's values, so each patch is on the pixel `wsi export heatmap` gives it.
  const values = latticeValues(pointLattice(grid), cells);
  for (let k = 0; k < values.length; k++) {
    const v = values[k];
    if (!Number.isNaN(v))
      paint(k % grid.columns, Math.floor(k / grid.columns), colourOf((v - grid.lo) / span));
  }
  return out;
}

/** The heatmap's cells over level 0. */
function cellGridOf(grid: HeatmapGrid): CellGrid {
  return {
    originX: grid.x,
    originY: grid.y,
    stepX: grid.strideX,
    stepY: grid.strideY,
    columns: grid.columns,
    rows: grid.rows,
  };
}

/** The point-mode heatmap as the lattice it was made from. */
function pointLattice(grid: HeatmapGrid): PatchLattice {
  return {
    ...cellGridOf(grid),
    patchWidth: 0,
    patchHeight: 0,
    patchSizes: [],
  };
}

export async function heatmapPng(cells: PatchCell[], grid: HeatmapGrid): Promise<Buffer> {
  return sharp(heatmapPixels(cells, grid), { raw: { width: grid.columns, height: grid.rows, channels: 4 } })
    .png({ compressionLevel: 6 })
    .toBuffer();
}
