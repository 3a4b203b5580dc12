/**
 * The annotations table: importing a file replaces that file's rows for the slide (so re-importing an edited
 * file leaves no stale polygons), reading returns annotations with their row ids.
 */

import { boundsOf } from '../annotations/raster.ts';
import type { Annotation, AnnotationClass } from '../annotations/types.ts';
import type { Store } from './db.ts';

export interface AnnotationRow extends Annotation {
  id: number;
  slideId: string;
  source: string;
  /** Set for annotations drawn in the viewer (migration 003); null for imported files. */
  author: string | null;
  createdAt: string | null;
  updatedAt: string | null;
}

interface RawRow {
  id: number;
  slide_id: string;
  source: string;
  name: string;
  group_name: string | null;
  class: AnnotationClass;
  geometry: Annotation['geometry'];
  coords_json: string;
  author?: string | null;
  created_at?: string | null;
  updated_at?: string | null;
}

/** Replaces the rows of (slide, source) with `annotations` in one transaction; returns the number written. */
export function saveAnnotations(
  store: Store,
  slideId: string,
  source: string,
  annotations: readonly Annotation[],
): number {
  const del = store.db.prepare('DELETE FROM annotations WHERE slide_id = ? AND source = ?');
  const ins = store.db.prepare(
    `INSERT INTO annotations (slide_id, source, name, group_name, class, geometry, coords_json, min_x, min_y, max_x, max_y)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  store.db.transaction(() => {
    del.run(slideId, source);
    for (const a of annotations) {
      const b = boundsOf([a.coords]);
      ins.run(
        slideId,
        source,
        a.name,
        a.group,
        a.class,
        a.geometry,
        JSON.stringify(a.coords),
        b.minX,
        b.minY,
        b.maxX,
        b.maxY,
      );
    }
  })();
  return annotations.length;
}

export interface AnnotationFilter {
  source?: string;
  class?: AnnotationClass;
  /** Only annotations whose bounding box meets this level-0 box. */
  within?: { minX: number; minY: number; maxX: number; maxY: number };
}

export function loadAnnotations(
  store: Store,
  slideId: string,
  filter: AnnotationFilter = {},
): AnnotationRow[] {
  const where = ['slide_id = @slideId'];
  if (filter.source !== undefined) where.push('source = @source');
  if (filter.class !== undefined) where.push('class = @class');
  if (filter.within) where.push('max_x >= @minX AND min_x <= @maxX AND max_y >= @minY AND min_y <= @maxY');
  const rows = store.db
    .prepare(`SELECT * FROM annotations WHERE ${where.join(' AND ')} ORDER BY source, id`)
    .all({ slideId, source: filter.source, class: filter.class, ...filter.within }) as RawRow[];
  return rows.map((r) => ({
    id: r.id,
    slideId: r.slide_id,
    source: r.source,
    name: r.name,
    group: r.group_name,
    class: r.class,
    geometry: r.geometry,
    coords: JSON.parse(r.coords_json) as Annotation['coords'],
    author: r.author ?? null,
    createdAt: r.created_at ?? null,
    updatedAt: r.updated_at ?? null,
  }));
}
