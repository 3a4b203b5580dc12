/**
 * Worker task: read a batch of regions from one slide and return their pixels in one transferred
 * buffer (regions back to back, width × height × 3 bytes each, in request order). Each worker keeps
 * its slides open between tasks, so its decoded-tile cache carries over.
 */
import { Piscina } from 'piscina';
import { createOpenSlideCache } from '../pipeline/slide/index.ts';
import { allocUnzeroed } from '../pipeline/slide/tile-buffers.ts';
import type { ReadRegionPayload } from '../pipeline/tasks.ts';

export type { ReadRegionPayload };

const slides = createOpenSlideCache(4);

export async function run(payload: ReadRegionPayload): Promise<unknown> {
  const slide = await slides.get(payload.slidePath, { cacheBytes: payload.cacheBytes });
  const total = payload.regions.reduce((n, r) => n + r.width * r.height * 3, 0);
  // Every byte is written (pixels or white), so a new batch buffer need not be zeroed.
  const out = payload.into ? checkedBatchBuffer(payload.into, total) : allocUnzeroed(total);
  let offset = 0;
  for (const r of payload.regions) {
    const n = r.width * r.height * 3;
    await slide.readRegion(r, { into: out.subarray(offset, offset + n) });
    offset += n;
  }
  return Piscina.move(out);
}

function checkedBatchBuffer(into: Uint8Array, total: number): Uint8Array {
  if (into.byteLength < total) {
    throw new RangeError(`'into' holds ${into.byteLength} bytes; the batch needs ${total}`);
  }
  return into.byteLength === total ? into : into.subarray(0, total);
}
