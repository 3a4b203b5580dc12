/**
 * Deep Zoom geometry (pure, no I/O). DZ level `maxLevel` is full resolution and each level below
 * halves it; tiles are `tileSize` px plus `overlap` px shared with each neighbour. A tile is
 * rendered from the coarsest slide level whose downsample does not exceed the DZ scale, then resized.
 */
import type { LevelInfo } from '../../pipeline/slide/types.ts';

export interface DzGeometry {
  tileSize: number;
  overlap: number;
}

/**
 * Default: 256 px tiles without overlap. On the usual 256-px-tiled, 2×/4× pyramids every
 * full-resolution (and every power-of-two level) DZ tile is then exactly one stored tile: one decode
 * per tile instead of four with 254 + 1. OpenSlide's 254 + 1 is available with --tile-size/--overlap.
 */
export const DEFAULT_GEOMETRY: DzGeometry = { tileSize: 256, overlap: 0 };

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

export function dzLevel(
  width: number,
  height: number,
  level: number,
  g: DzGeometry = DEFAULT_GEOMETRY,
): DzLevel {
  const scale = 2 ** (dzMaxLevel(width, height) - level);
  const w = Math.max(1, Math.ceil(width / scale));
  const h = Math.max(1, Math.ceil(height / scale));
  return { width: w, height: h, cols: Math.ceil(w / g.tileSize), rows: Math.ceil(h / g.tileSize), scale };
}

/** Pixel span [start, end) of tile `i` along an axis of `size` DZ pixels, overlap included. */
export function tileSpan(i: number, size: number, g: DzGeometry = DEFAULT_GEOMETRY): [number, number] {
  return [i * g.tileSize - (i > 0 ? g.overlap : 0), Math.min(size, (i + 1) * g.tileSize + g.overlap)];
}

export function dziXml(
  width: number,
  height: number,
  format: 'jpeg' | 'png',
  g: DzGeometry = DEFAULT_GEOMETRY,
): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Image xmlns="http://schemas.microsoft.com/deepzoom/2008" Format="${format}" Overlap="${g.overlap}" TileSize="${g.tileSize}">` +
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
  g: DzGeometry = DEFAULT_GEOMETRY,
): TilePlan | undefined {
  const max = dzMaxLevel(width, height);
  if (!Number.isInteger(level) || level < 0 || level > max) return undefined;
  const dz = dzLevel(width, height, level, g);
  if (!Number.isInteger(col) || !Number.isInteger(row) || col < 0 || row < 0) return undefined;
  if (col >= dz.cols || row >= dz.rows) return undefined;
  const [x0, x1] = tileSpan(col, dz.width, g);
  const [y0, y1] = tileSpan(row, dz.height, g);
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

/** A stored slide tile, by slide level and tile grid position. */
export interface StoredTileRef {
  level: number;
  col: number;
  row: number;
}

/**
 * The stored slide tile a Deep Zoom tile is exactly, or undefined. Exactly means: no overlap, a slide
 * level whose downsample is precisely the DZ scale, square stored tiles of the DZ tile size, and a
 * tile wholly inside both the level and the DZ image. Then the rendered path would read that one
 * tile's pixels unresized, so its stored bytes can be sent as they are.
 */
export function storedTileFor(
  width: number,
  height: number,
  levels: readonly LevelInfo[],
  level: number,
  col: number,
  row: number,
  g: DzGeometry = DEFAULT_GEOMETRY,
): StoredTileRef | undefined {
  if (g.overlap !== 0) return undefined;
  const plan = planTile(width, height, levels, level, col, row, g);
  if (!plan) return undefined;
  const dz = dzLevel(width, height, level, g);
  const l = levels[plan.level];
  if (l.downsample !== dz.scale || l.tileWidth !== g.tileSize || l.tileHeight !== g.tileSize)
    return undefined;
  const t = g.tileSize;
  if ((col + 1) * t > Math.min(l.width, dz.width) || (row + 1) * t > Math.min(l.height, dz.height))
    return undefined;
  return { level: plan.level, col, row };
}
