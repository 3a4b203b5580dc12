/**
 * Deep Zoom geometry (pure, no I/O). DZ level `maxLevel` is full resolution and each level below
 * halves it; tiles are TILE_SIZE px with TILE_OVERLAP px shared with each neighbour. A tile is
 * rendered from the coarsest slide level whose downsample does not exceed the DZ scale, then resized.
 */
import type { LevelInfo } from '../../pipeline/slide/types.ts';

export const TILE_SIZE = 254;
export const TILE_OVERLAP = 1;

export interface DzLevel {
  width: number;
  height: number;
  cols: number;
  rows: number;
  /** Level-0 pixels per pixel of this DZ level (a power of two). */
  scale: number;
}

export function dzMaxLevel(width: number, height: number): number {
  return Math.ceil(Math.log2(Math.max(width, height, 1)));
}

export function dzLevel(width: number, height: number, level: number): DzLevel {
  const scale = 2 ** (dzMaxLevel(width, height) - level);
  const w = Math.max(1, Math.ceil(width / scale));
  const h = Math.max(1, Math.ceil(height / scale));
  return { width: w, height: h, cols: Math.ceil(w / TILE_SIZE), rows: Math.ceil(h / TILE_SIZE), scale };
}

export function dziXml(width: number, height: number, format: 'jpeg' | 'png'): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="${format}" Overlap="${TILE_OVERLAP}" TileSize="${TILE_SIZE}">` +
    `<Size Width="${width}" Height="${height}"/></Image>\n`
  );
}

export interface TilePlan {
  /** Slide level to read from. */
  level: number;
  /** Level-0 top-left of the read. */
  x: number;
  y: number;
  /** Read size in that slide level's pixels. */
  readWidth: number;
  readHeight: number;
  /** Output tile size in DZ pixels. */
  width: number;
  height: number;
}

/** The coarsest slide level whose downsample is ≤ scale (with a little slack for rounded sizes). */
export function chooseSlideLevel(levels: readonly LevelInfo[], scale: number): number {
  let best = 0;
  for (let i = 0; i < levels.length; i++) {
    if (levels[i].downsample <= scale * 1.01 && levels[i].downsample >= levels[best].downsample) best = i;
  }
  return best;
}

/** Plans a tile, or returns undefined when (level, col, row) lies outside the pyramid. */
export function planTile(
  width: number,
  height: number,
  levels: readonly LevelInfo[],
  level: number,
  col: number,
  row: number,
): TilePlan | undefined {
  const max = dzMaxLevel(width, height);
  if (!Number.isInteger(level) || level < 0 || level > max) return undefined;
  const dz = dzLevel(width, height, level);
  if (!Number.isInteger(col) || !Number.isInteger(row) || col < 0 || row < 0) return undefined;
  if (col >= dz.cols || row >= dz.rows) return undefined;
  const x0 = col * TILE_SIZE - (col > 0 ? TILE_OVERLAP : 0);
  const y0 = row * TILE_SIZE - (row > 0 ? TILE_OVERLAP : 0);
  const x1 = Math.min(dz.width, (col + 1) * TILE_SIZE + TILE_OVERLAP);
  const y1 = Math.min(dz.height, (row + 1) * TILE_SIZE + TILE_OVERLAP);
  const slideLevel = chooseSlideLevel(levels, dz.scale);
  const ds = levels[slideLevel].downsample;
  // Level-0 extent of the tile, clipped to the image (the last DZ pixel may cover a partial area).
  const l0x = x0 * dz.scale;
  const l0y = y0 * dz.scale;
  const l0w = Math.min(width, x1 * dz.scale) - l0x;
  const l0h = Math.min(height, y1 * dz.scale) - l0y;
  return {
    level: slideLevel,
    x: l0x,
    y: l0y,
    readWidth: Math.max(1, Math.round(l0w / ds)),
    readHeight: Math.max(1, Math.round(l0h / ds)),
    width: x1 - x0,
    height: y1 - y0,
  };
}
