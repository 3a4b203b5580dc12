/**
 * Slides kept open by a worker thread between tasks, so each slide is opened once and its decoded-tile
 * cache carries over: at most `maxOpen` at a time, the oldest closed first. Each worker creates its own
 * instance (module state of the worker thread). A failed open is not kept: the next task retries and
 * reports its own error. A slide opened without an explicit cacheBytes gets this worker's share of the
 * default decoded-tile cache (pool-share.ts), so a pool holds no more decoded tiles than one reader.
 */
import { shareOfBudget } from '../pool-share.ts';
import { openSlide } from './open.ts';
import { DEFAULT_CACHE_BYTES } from './tiled-slide.ts';
import type { OpenOptions, Slide } from './types.ts';

export interface OpenSlideCache {
  /** The open slide for `path` opened with `options` (same path with other options is another entry). */
  get(path: string, options?: OpenOptions): Promise<Slide>;
}

export function createOpenSlideCache(maxOpen = 4): OpenSlideCache {
  const slides = new Map<string, Promise<Slide>>();
  return {
    get(path, options) {
      const key = `${path}\0${JSON.stringify(options ?? {})}`;
      let s = slides.get(key);
      if (!s) {
        if (slides.size >= maxOpen) {
          const [oldKey, old] = slides.entries().next().value as [string, Promise<Slide>];
          slides.delete(oldKey);
          void old.then((o) => o.close()).catch(() => {});
        }
        s = openSlide(path, {
          ...options,
          cacheBytes: options?.cacheBytes ?? shareOfBudget(DEFAULT_CACHE_BYTES),
        });
        s.catch(() => slides.delete(key));
        slides.set(key, s);
      }
      return s;
    },
  };
}
