/**
 * The one hook inference and embedding call on the pixels they read: a slide's own stain estimate and
 * the model's target travel as plain JSON (worker messages), the per-tile map is built from them here.
 */
import type { RGBImage } from '../slide/types.ts';
import { createTileNormaliser } from './estimate.ts';
import type { StainEstimate, TileNormaliser } from './types.ts';

/** A slide's stain and the target to map it to. */
export interface StainPair {
  source: StainEstimate;
  target: StainEstimate;
}

const cache = new Map<string, TileNormaliser>();

/** The image normalised to the target (a new RGB image), or the image itself without a pair. */
export function applyStain(img: RGBImage, stain: StainPair | undefined): RGBImage {
  if (!stain) return img;
  const key = JSON.stringify(stain);
  let f = cache.get(key);
  if (!f) {
    if (cache.size > 16) cache.clear();
    f = createTileNormaliser(stain.source, stain.target);
    cache.set(key, f);
  }
  return { data: f(img.data, img.channels), width: img.width, height: img.height, channels: 3 };
}
