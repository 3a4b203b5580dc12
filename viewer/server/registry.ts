/**
 * The slides the server may show: exactly the rows of the store's slides table. URLs carry ids;
 * an id is looked up here before anything touches the filesystem, and only the path stored for
 * that id is ever opened. Opened slides are kept (bounded, least recently used closed first).
 */
import type { Slide } from '../../pipeline/slide/types.ts';
import type { Store } from '../../pipeline/store/db.ts';
import { getSlide, listSlides, type SlideRow } from '../../pipeline/store/slides.ts';

export type SlideOpener = (path: string) => Promise<Slide>;

/** Ids are content hashes: short, URL-safe. Anything else is rejected before a lookup. */
const SLIDE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export interface SlideRegistry {
  list(): SlideRow[];
  row(id: string): SlideRow | undefined;
  /** Opens (or reuses) the slide with this id; undefined for ids not in the store. */
  open(id: string): Promise<Slide | undefined>;
  close(): Promise<void>;
}

export function createSlideRegistry(store: Store, opener: SlideOpener, maxOpen = 16): SlideRegistry {
  const opened = new Map<string, Promise<Slide>>();

  async function evict(): Promise<void> {
    while (opened.size > maxOpen) {
      const [oldest, p] = opened.entries().next().value as [string, Promise<Slide>];
      opened.delete(oldest);
      await p.then((s) => s.close()).catch(() => undefined);
    }
  }

  return {
    list: () => listSlides(store),
    row: (id) => (SLIDE_ID.test(id) ? getSlide(store, id) : undefined),
    async open(id) {
      if (!SLIDE_ID.test(id)) return undefined;
      const existing = opened.get(id);
      if (existing) {
        opened.delete(id);
        opened.set(id, existing);
        return existing;
      }
      const row = getSlide(store, id);
      if (!row) return undefined;
      const p = opener(row.path);
      opened.set(id, p);
      p.catch(() => opened.delete(id));
      await evict();
      return p;
    },
    async close() {
      const all = [...opened.values()];
      opened.clear();
      await Promise.all(all.map((p) => p.then((s) => s.close()).catch(() => undefined)));
    },
  };
}
