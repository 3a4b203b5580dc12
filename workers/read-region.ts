/**
 * Worker task: read a batch of regions from one slide and return their pixels in one transferred
 * buffer (regions back to back, width × height × 3 bytes each, in request order). Each worker keeps
 * its slides open between tasks, so its decoded-tile cache carries over.
 */
import { Piscina } from 'piscina';
import { openSlide } from '../pipeline/slide/index.ts';
import type { LevelRegion, Slide } from '../pipeline/slide/types.ts';

export interface ReadRegionPayload {
  slidePath: string;
  regions: LevelRegion[];
  /** Decoded-tile cache per worker, bytes (default: the reader's default). */
  cacheBytes?: number;
}

const MAX_OPEN_SLIDES = 4;
const slides = new Map<string, Promise<Slide>>();

function slideFor(path: string, cacheBytes: number | undefined): Promise<Slide> {
  const key = `${path}\0${cacheBytes ?? ''}`;
  let s = slides.get(key);
  if (!s) {
    if (slides.size >= MAX_OPEN_SLIDES) {
      const [oldKey, old] = slides.entries().next().value as [string, Promise<Slide>];
      slides.delete(oldKey);
      void old.then((o) => o.close()).catch(() => {});
    }
    s = openSlide(path, { cacheBytes });
    // A failed open must not stay cached: the next task retries (and reports its own error).
    s.catch(() => slides.delete(key));
    slides.set(key, s);
  }
  return s;
}

export async function run(payload: ReadRegionPayload): Promise<unknown> {
  const slide = await slideFor(payload.slidePath, payload.cacheBytes);
  const total = payload.regions.reduce((n, r) => n + r.width * r.height * 3, 0);
  // Every byte is written (pixels or white), so the batch buffer need not be zeroed; it owns its ArrayBuffer (transferred).
  const raw = Buffer.allocUnsafeSlow(total);
  const out = new Uint8Array(raw.buffer, raw.byteOffset, total);
  let offset = 0;
  for (const r of payload.regions) {
    const n = r.width * r.height * 3;
    await slide.readRegion(r, { into: out.subarray(offset, offset + n) });
    offset += n;
  }
  return Piscina.move(out);
}
