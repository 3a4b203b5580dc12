/**
 * Planning of fully convolutional inference over a slide (pure, no I/O).
 *
 * The score map is a grid in "model pixels" (pixels at the µm/px the model reads): grid point (i, j)
 * scores the patch whose top-left model pixel is (j·stride, i·stride) and whose side is the receptive
 * field. Only patches entirely inside the slide get a grid point. Tiles partition the grid: a tile owns
 * k × k grid points and reads receptiveField + (k − 1)·stride model pixels per side, so neighbouring
 * tiles overlap by receptiveField − stride pixels and the stitched map has no seams.
 *
 * When the model's µm/px is within 2 % of a pyramid level's, the read snaps to that level's exact µm/px:
 * tiles and single patches are then plain crops of the level (no resampling), which is what makes the
 * FCN map identical to patch-by-patch scoring.
 */
import { ConfigError, MissingResolutionError } from '../errors.ts';
import type { LevelInfo } from '../slide/types.ts';
import type { Geometry } from './geometry.ts';

export interface ReadScale {
  /** µm/px actually read. */
  mpp: number;
  /** Level-0 pixels per model pixel. */
  factor: number;
  /** The pyramid level read as-is, when snapped; undefined when reads resample. */
  level: number | undefined;
}

export interface FcnTile {
  /** First grid row/column this tile owns and how many it owns. */
  row0: number;
  col0: number;
  rows: number;
  cols: number;
  /** Model-pixel rectangle read for it. */
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface FcnPlan {
  scale: ReadScale;
  geometry: Geometry;
  /** Output grid size. */
  gridRows: number;
  gridCols: number;
  tiles: FcnTile[];
}

const SNAP_TOLERANCE = 0.02;

/** Chooses how to read the slide at `mpp`: snapped to a level when one is within 2 %. */
export function readScale(levels: readonly LevelInfo[], slideMpp: number, mpp: number): ReadScale {
  if (!(slideMpp > 0)) throw new MissingResolutionError(`the slide does not say its µm/px (got ${slideMpp})`);
  if (!(mpp > 0)) throw new ConfigError(`µm/px must be positive, got ${mpp}`);
  const wanted = mpp / slideMpp;
  for (let l = 0; l < levels.length; l++) {
    const ratio = levels[0].width / levels[l].width;
    if (Math.abs(ratio / wanted - 1) <= SNAP_TOLERANCE) {
      return { mpp: slideMpp * ratio, factor: ratio, level: l };
    }
  }
  return { mpp, factor: wanted, level: undefined };
}

/**
 * Level-0 coordinate of model pixel `v`. For a snapped level the value is rounded up so that the
 * reader's floor(x / downsample) lands exactly on model pixel v, whatever the measured downsample.
 */
export function level0Of(v: number, scale: ReadScale): number {
  if (scale.level !== undefined) return Math.max(0, Math.ceil(v * scale.factor - 1e-9));
  return Math.round(v * scale.factor);
}

/** Grid points that fit in a slide of this level-0 size. */
function gridSize(
  width0: number,
  height0: number,
  scale: ReadScale,
  g: Geometry,
): { gridRows: number; gridCols: number } {
  const w = Math.floor(width0 / scale.factor);
  const h = Math.floor(height0 / scale.factor);
  const n = (size: number) =>
    size < g.receptiveField ? 0 : Math.floor((size - g.receptiveField) / g.stride) + 1;
  return { gridRows: n(h), gridCols: n(w) };
}

/** Grid points per tile side so that a tile reads about `targetInput` pixels per side. */
export function outputsPerTile(g: Geometry, targetInput: number): number {
  return Math.max(1, Math.floor((targetInput - g.receptiveField) / g.stride) + 1);
}

export function planFcn(
  width0: number,
  height0: number,
  scale: ReadScale,
  g: Geometry,
  tileOutputs: number,
): FcnPlan {
  if (!(Number.isInteger(tileOutputs) && tileOutputs >= 1)) {
    throw new ConfigError(`tile size must be at least one output, got ${tileOutputs}`);
  }
  const { gridRows, gridCols } = gridSize(width0, height0, scale, g);
  const tiles: FcnTile[] = [];
  for (let row0 = 0; row0 < gridRows; row0 += tileOutputs) {
    const rows = Math.min(tileOutputs, gridRows - row0);
    for (let col0 = 0; col0 < gridCols; col0 += tileOutputs) {
      const cols = Math.min(tileOutputs, gridCols - col0);
      tiles.push({
        row0,
        col0,
        rows,
        cols,
        x: col0 * g.stride,
        y: row0 * g.stride,
        width: g.receptiveField + (cols - 1) * g.stride,
        height: g.receptiveField + (rows - 1) * g.stride,
      });
    }
  }
  return { scale, geometry: g, gridRows, gridCols, tiles };
}
