/**
 * A run's patches on a slide as the export's regular grid: the shared patch lattice (pipeline/patches/lattice.ts,
 * the one the viewer draws its heatmap on), refused when it would be too large to write as one image.
 */
import { ConfigError } from '../errors.ts';
import { type LatticePatch, type PatchLattice, patchLattice } from '../patches/lattice.ts';

export type PatchGrid = PatchLattice;

/** Largest cells a grid export may have on one side (a 250,000 px slide at a 32 px stride). */
export const MAX_GRID_SIDE = 8192;

export function patchGrid(patches: readonly LatticePatch[]): PatchGrid {
  const grid = patchLattice(patches);
  if (grid.columns > MAX_GRID_SIDE || grid.rows > MAX_GRID_SIDE)
    throw new ConfigError(
      `patch grid ${grid.columns}×${grid.rows} is too large or not regular (step ${grid.stepX}×${grid.stepY} px)`,
    );
  return grid;
}
