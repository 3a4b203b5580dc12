/**
 * Slides kept open by a worker thread between tasks (so its decoded-tile cache carries over): a few at a
 * time, oldest closed first. Each worker has its own instance (module state of the worker thread).
 */
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';

export interface OpenSlideCache {
  get(path: string, fallbackMpp: number | undefined): Promise<Slide>;
}

/**
 * `cacheBytes` bounds each open slide's decoded-tile cache (default 64 MiB): grid reads move in rows, so
 * a few rows of tiles are all that is ever reused, and memory stays flat with several workers.
 */
export function createSlideCache(maxOpen = 4, cacheBytes = 64 * 1024 * 1024): OpenSlideCache {
  const slides = new Map<string, Promise<Slide>>();
  return {
    get(path, fallbackMpp) {
      const key = `${path}\0${fallbackMpp ?? ''}`;
      let s = slides.get(key);
      if (!s) {
        if (slides.size >= maxOpen) {
          const [oldKey, old] = slides.entries().next().value as [string, Promise<Slide>];
          slides.delete(oldKey);
          void old.then((o) => o.close()).catch(() => {});
        }
        s = openSlide(path, { fallbackMpp, cacheBytes });
        // A failed open must not stay cached: the next task retries and reports its own error.
        s.catch(() => slides.delete(key));
        slides.set(key, s);
      }
      return s;
    },
  };
}
