/**
 * Worker task: the pixels of a batch of patches of one slide (at a µm/px or a level), back to back in one
 * transferred buffer of size × size × 3 bytes per patch, in request order. For training and embedding code
 * that needs patch pixels without writing files.
 */
import { Piscina } from 'piscina';
import { PATCH_TILE_CACHE_BYTES, readPatch } from '../pipeline/patches/read.ts';
import { createOpenSlideCache } from '../pipeline/slide/index.ts';
import type { PatchPixelsPayload } from '../pipeline/tasks.ts';

export type { PatchPixelsPayload };

const cache = createOpenSlideCache(4);

export async function run(payload: PatchPixelsPayload): Promise<unknown> {
  const slide = await cache.get(payload.slidePath, {
    fallbackMpp: payload.assumeMpp,
    cacheBytes: PATCH_TILE_CACHE_BYTES,
  });
  const bytes = payload.size * payload.size * 3;
  const out = new Uint8Array(bytes * payload.patches.length);
  for (let i = 0; i < payload.patches.length; i++) {
    const img = await readPatch(slide, payload.patches[i], payload.size, payload.resolution);
    if (img.channels === 3) out.set(img.data, i * bytes);
    else
      for (let k = 0, o = i * bytes; k < img.data.length; k += img.channels, o += 3)
        out.set(img.data.subarray(k, k + 3), o);
  }
  return Piscina.move(out);
}
