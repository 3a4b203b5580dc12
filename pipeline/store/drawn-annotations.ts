/**
 * Writes for annotations drawn in the viewer (source 'viewer'): create, edit, delete, each one statement.
 * Imported annotations (other sources) are never changed here: re-import the file instead.
 */
import { randomUUID } from 'node:crypto';
import { classOfLabel, type DrawnAnnotationInput, VIEWER_SOURCE } from '../annotations/drawn.ts';
import { boundsOf } from '../annotations/raster.ts';
import type { Store } from './db.ts';

const now = () => new Date().toISOString();

export function createDrawnAnnotation(store: Store, slideId: string, a: DrawnAnnotationInput): number {
  const b = boundsOf([a.coords]);
  const t = now();
  const r = store.db
    .prepare(
      `INSERT INTO annotations (slide_id, source, name, group_name, class, geometry, coords_json,
         min_x, min_y, max_x, max_y, author, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      slideId,
      VIEWER_SOURCE,
      `${a.label} ${randomUUID().slice(0, 8)}`,
      a.label,
      classOfLabel(a.label),
      a.geometry,
      JSON.stringify(a.coords),
      b.minX,
      b.minY,
      b.maxX,
      b.maxY,
      a.author,
      t,
      t,
    );
  return Number(r.lastInsertRowid);
}

/** 'missing' when no such annotation on the slide, 'readonly' when it was imported from a file. */
export type DrawnWriteResult = 'ok' | 'missing' | 'readonly';

/**
 * A drawing an edit may start from (its kind and label), or why it may not: 'missing' when no such annotation
 * on the slide, 'readonly' when it was imported from a file.
 */
export function editableDrawnAnnotation(
  store: Store,
  slideId: string,
  id: number,
): { geometry: string; label: string } | 'missing' | 'readonly' {
  const row = store.db
    .prepare('SELECT source, geometry, group_name AS label FROM annotations WHERE id = ? AND slide_id = ?')
    .get(id, slideId) as { source: string; geometry: string; label: string } | undefined;
  if (!row) return 'missing';
  if (row.source !== VIEWER_SOURCE) return 'readonly';
  return { geometry: row.geometry, label: row.label };
}

export function updateDrawnAnnotation(
  store: Store,
  slideId: string,
  id: number,
  a: DrawnAnnotationInput,
): DrawnWriteResult {
  const stored = editableDrawnAnnotation(store, slideId, id);
  if (typeof stored === 'string') return stored;
  const b = boundsOf([a.coords]);
  store.db
    .prepare(
      `UPDATE annotations SET group_name = ?, class = ?, geometry = ?, coords_json = ?,
         min_x = ?, min_y = ?, max_x = ?, max_y = ?, author = ?, updated_at = ? WHERE id = ?`,
    )
    .run(
      a.label,
      classOfLabel(a.label),
      a.geometry,
      JSON.stringify(a.coords),
      b.minX,
      b.minY,
      b.maxX,
      b.maxY,
      a.author,
      now(),
      id,
    );
  return 'ok';
}

export function deleteDrawnAnnotation(store: Store, slideId: string, id: number): DrawnWriteResult {
  const stored = editableDrawnAnnotation(store, slideId, id);
  if (typeof stored === 'string') return stored;
  store.db.prepare('DELETE FROM annotations WHERE id = ?').run(id);
  return 'ok';
}
