/**
 * The one lattice a run's patches are drawn and exported on: the viewer's heatmap image, `wsi export heatmap`
 * (PNG and TIFF), the tumour regions and the tissue outline all place patch (x, y, w, h) with these functions,
 * so a pixel of one is a pixel of the others.
 *
 * Along each axis the step is the greatest common divisor of the patch-centre offsets (every patch centre
 * lands exactly on a cell centre, whatever mix of strides and patch sizes a run has), reduced to its largest
 * divisor not above the smallest patch side (one missing row of background patches must not double it), and
 * never below 1/16 of that side: positions off any lattice (random sampling) then snap by at most 1/32 of a
 * patch. Cell (i, j) is the step-sized square whose centre is (minCentreX + i·stepX, minCentreY + j·stepY).
 */
import { ConfigError } from '../errors.ts';

export interface LatticePatch {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A grid of cells over level 0: where cell (0, 0) starts, the cell size and the grid's size. */
export interface CellGrid {
  /** Level-0 top-left of cell (0, 0). */
  originX: number;
  originY: number;
  /** Level-0 pixels per cell along each axis. */
  stepX: number;
  stepY: number;
  columns: number;
  rows: number;
}

export interface PatchLattice extends CellGrid {
  /** Smallest level-0 patch size (the sizes a run has are in `patchSizes`). */
  patchWidth: number;
  patchHeight: number;
  /** Distinct level-0 patch sizes [width, height], most frequent first. */
  patchSizes: [number, number][];
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Step along one axis from the centre offsets and the smallest patch side (see the module comment). */
export function latticeStep(centres: Iterable<number>, min: number, side: number): number {
  let g = 0;
  for (const c of centres) g = gcd(g, Math.round(c - min));
  if (g === 0) return side;
  let best = 0;
  for (let d = 1; d * d <= g; d++) {
    if (g % d !== 0) continue;
    for (const q of [d, g / d]) if (q <= side && q > best) best = q;
  }
  return Math.max(best, Math.max(1, Math.round(side / 16)));
}

function sizesOf(patches: readonly LatticePatch[]): [number, number][] {
  const counts = new Map<string, { size: [number, number]; n: number }>();
  for (const p of patches) {
    const key = `${p.width}x${p.height}`;
    const c = counts.get(key);
    if (c) c.n++;
    else counts.set(key, { size: [p.width, p.height], n: 1 });
  }
  return [...counts.values()].sort((a, b) => b.n - a.n).map((c) => c.size);
}

export function patchLattice(patches: readonly LatticePatch[]): PatchLattice {
  if (patches.length === 0) throw new ConfigError('no patches to place on a lattice');
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  let w = Number.POSITIVE_INFINITY;
  let h = Number.POSITIVE_INFINITY;
  const cx = new Set<number>();
  const cy = new Set<number>();
  for (const p of patches) {
    const x = p.x + p.width / 2;
    const y = p.y + p.height / 2;
    cx.add(x);
    cy.add(y);
    minX = Math.min(minX, x);
    minY = Math.min(minY, y);
    maxX = Math.max(maxX, x);
    maxY = Math.max(maxY, y);
    w = Math.min(w, p.width);
    h = Math.min(h, p.height);
  }
  const stepX = latticeStep(cx, minX, w);
  const stepY = latticeStep(cy, minY, h);
  return {
    originX: minX - stepX / 2,
    originY: minY - stepY / 2,
    stepX,
    stepY,
    columns: Math.round((maxX - minX) / stepX) + 1,
    rows: Math.round((maxY - minY) / stepY) + 1,
    patchWidth: w,
    patchHeight: h,
    patchSizes: sizesOf(patches),
  };
}

/** Column and row of the cell a patch's centre falls in. */
export function latticeCell(l: PatchLattice, p: LatticePatch): [number, number] {
  return [
    Math.round((p.x + p.width / 2 - l.originX - l.stepX / 2) / l.stepX),
    Math.round((p.y + p.height / 2 - l.originY - l.stepY / 2) / l.stepY),
  ];
}

/**
 * Values on the lattice in row-major order, NaN where no patch is. Where two patches fall in one cell
 * (off-lattice positions snapped together) the higher value is kept, whatever order the rows came in.
 */
export function latticeValues(
  l: PatchLattice,
  patches: readonly (LatticePatch & { value: number })[],
): Float32Array {
  const out = new Float32Array(l.columns * l.rows).fill(Number.NaN);
  for (const p of patches) {
    const [i, j] = latticeCell(l, p);
    const k = j * l.columns + i;
    if (!(out[k] >= Math.fround(p.value))) out[k] = p.value;
  }
  return out;
}

/**
 * The footprint lattice: the same steps, but cells start at the patches' top-left corner and span every
 * footprint, so a patch covers cells [i0, i1) × [j0, j1) (the tissue outline, the viewer's sparse mode).
 */
export type FootprintLattice = CellGrid;

export function footprintLattice(
  patches: readonly LatticePatch[],
  l = patchLattice(patches),
): FootprintLattice {
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const p of patches) {
    minX = Math.min(minX, p.x);
    minY = Math.min(minY, p.y);
    maxX = Math.max(maxX, p.x + p.width);
    maxY = Math.max(maxY, p.y + p.height);
  }
  return {
    originX: minX,
    originY: minY,
    stepX: l.stepX,
    stepY: l.stepY,
    columns: Math.ceil((maxX - minX) / l.stepX),
    rows: Math.ceil((maxY - minY) / l.stepY),
  };
}

/** Cells [i0, i1) × [j0, j1) a patch covers on a footprint lattice. */
export function footprintCells(f: FootprintLattice, p: LatticePatch): [number, number, number, number] {
  return [
    Math.round((p.x - f.originX) / f.stepX),
    Math.round((p.y - f.originY) / f.stepY),
    Math.round((p.x + p.width - f.originX) / f.stepX),
    Math.round((p.y + p.height - f.originY) / f.stepY),
  ];
}
