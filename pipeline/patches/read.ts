/** Reading a patch's pixels: at a µm/px through the reader's readAt (best level + resize), or at a level. */
import type { RGBImage, Slide } from '../slide/types.ts';
import type { PatchResolution, PatchSpec } from './types.ts';

/**
 * Decoded-tile cache of each slide a patch worker keeps open (64 MiB): grid reads move in rows, so a few
 * rows of tiles are all that is ever reused, and memory stays flat with several workers.
 */
export const PATCH_TILE_CACHE_BYTES = 64 * 1024 * 1024;

export function readPatch(
  slide: Slide,
  p: Pick<PatchSpec, 'x' | 'y'>,
  size: number,
  resolution: PatchResolution,
): Promise<RGBImage> {
  if ('mpp' in resolution)
    return slide.readAt({ x: p.x, y: p.y, width: size, height: size, mpp: resolution.mpp });
  return slide.readRegion({ x: p.x, y: p.y, width: size, height: size, level: resolution.level });
}
