/** The slides table: register a slide opened by the reader, look slides up. */
import { basename } from 'node:path';
import type { LevelInfo, Slide } from '../slide/types.ts';
import type { Store } from './db.ts';

export interface SlideRow {
  id: string;
  path: string;
  name: string;
  format: string;
  vendor: string | null;
  width: number;
  height: number;
  mppX: number | null;
  mppY: number | null;
  objectivePower: number | null;
  levels: LevelInfo[];
}

interface RawSlideRow {
  id: string;
  path: string;
  name: string;
  format: string;
  vendor: string | null;
  width: number;
  height: number;
  mpp_x: number | null;
  mpp_y: number | null;
  objective_power: number | null;
  levels_json: string;
}

function fromRaw(r: RawSlideRow): SlideRow {
  return {
    id: r.id,
    path: r.path,
    name: r.name,
    format: r.format,
    vendor: r.vendor,
    width: r.width,
    height: r.height,
    mppX: r.mpp_x,
    mppY: r.mpp_y,
    objectivePower: r.objective_power,
    levels: JSON.parse(r.levels_json) as LevelInfo[],
  };
}

/** Registers (or updates the location of) a slide; returns its id. Idempotent. */
export function upsertSlide(store: Store, slide: Slide): string {
  const name = slide.source.startsWith('http')
    ? decodeURIComponent(new URL(slide.source).pathname.split('/').pop() ?? slide.source)
    : basename(slide.source);
  store.db
    .prepare(
      `INSERT INTO slides (id, path, name, format, vendor, width, height, mpp_x, mpp_y, objective_power, levels_json)
       VALUES (@id, @path, @name, @format, @vendor, @width, @height, @mppX, @mppY, @objectivePower, @levels)
       ON CONFLICT (id) DO UPDATE SET path = excluded.path, name = excluded.name,
         mpp_x = excluded.mpp_x, mpp_y = excluded.mpp_y`,
    )
    .run({
      id: slide.id,
      path: slide.source,
      name,
      format: slide.format,
      vendor: slide.vendor,
      width: slide.width,
      height: slide.height,
      mppX: slide.mpp?.x ?? null,
      mppY: slide.mpp?.y ?? null,
      objectivePower: slide.objectivePower ?? null,
      levels: JSON.stringify(slide.levels),
    });
  return slide.id;
}

export function getSlide(store: Store, id: string): SlideRow | undefined {
  const r = store.db.prepare('SELECT * FROM slides WHERE id = ?').get(id) as RawSlideRow | undefined;
  return r ? fromRaw(r) : undefined;
}

export function findSlideByName(store: Store, name: string): SlideRow | undefined {
  const r = store.db
    .prepare('SELECT * FROM slides WHERE name = ? ORDER BY added_at DESC LIMIT 1')
    .get(name) as RawSlideRow | undefined;
  return r ? fromRaw(r) : undefined;
}

export function listSlides(store: Store): SlideRow[] {
  return (store.db.prepare('SELECT * FROM slides ORDER BY name, id').all() as RawSlideRow[]).map(fromRaw);
}
