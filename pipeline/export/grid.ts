/**
 * A run's patches on a slide as a regular grid, one cell per patch: the step is the largest lattice every
 * patch position lies on (not above the patch size), and cell (i, j) is centred on the patch whose centre
 * is (originX + (i + ½)·stride, originY + (j + ½)·stride). For non-overlapping patches a cell is the patch;
 * for an FCN score map (patches overlapping at a smaller stride) a cell is the stride square around the
 * patch centre, as the viewer draws it.
 */
import { ConfigError } from '../errors.ts';

export interface GridPatch {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface PatchGrid {
  /** Level-0 top-left of cell (0, 0). */
  originX: number;
  originY: number;
  /** Level-0 pixels per cell. */
  stride: number;
  columns: number;
  rows: number;
  /** Level-0 patch size (the area each value was computed from). */
  patchWidth: number;
  patchHeight: number;
}

/** Largest cells a grid export may have on one side (a 250,000 px slide at a 32 px stride). */
export const MAX_GRID_SIDE = 8192;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function lattice(values: Iterable<number>, min: number): number {
  let g = 0;
  for (const v of values) g = gcd(g, Math.round(v - min));
  return g;
}

export function patchGrid(patches: readonly GridPatch[]): PatchGrid {
  if (patches.length === 0) throw new ConfigError('no patches to place on a grid');
  const w = patches[0].width;
  const h = patches[0].height;
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const p of patches) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x);
    maxY = Math.max(maxY, p.y);
  }
  const g = gcd(
    lattice(
      patches.map((p) => p.x),
      minX,
    ),
    lattice(
      patches.map((p) => p.y),
      minY,
    ),
  );
  // Largest divisor of the lattice step not above the patch size (one missing row must not double it).
  let stride = Math.min(w, h);
  if (g > 0) {
    let best = 1;
    for (let d = 1; d * d <= g; d++) {
      if (g % d !== 0) continue;
      for (const q of [d, g / d]) if (q <= Math.min(w, h) && q > best) best = q;
    }
    stride = best;
  }
  const columns = Math.round((maxX - minX) / stride) + 1;
  const rows = Math.round((maxY - minY) / stride) + 1;
  if (columns > MAX_GRID_SIDE || rows > MAX_GRID_SIDE)
    throw new ConfigError(`patch grid ${columns}×${rows} is too large or not regular (step ${stride} px)`);
  return {
    originX: minX + w / 2 - stride / 2,
    originY: minY + h / 2 - stride / 2,
    stride,
    columns,
    rows,
    patchWidth: w,
    patchHeight: h,
  };
}

/** Index of a patch's cell in row-major order. */
export function cellIndex(grid: PatchGrid, p: GridPatch): number {
  const i = Math.round((p.x + p.width / 2 - grid.originX - grid.stride / 2) / grid.stride);
  const j = Math.round((p.y + p.height / 2 - grid.originY - grid.stride / 2) / grid.stride);
  return j * grid.columns + i;
}

/** Values on the grid, NaN where no patch is. */
export function gridValues(
  grid: PatchGrid,
  patches: readonly (GridPatch & { value: number })[],
): Float32Array {
  const out = new Float32Array(grid.columns * grid.rows).fill(Number.NaN);
  for (const p of patches) out[cellIndex(grid, p)] = p.value;
  return out;
}
