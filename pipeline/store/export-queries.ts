/**
 * Read-only queries behind `wsi export`: the slides a run touched, its patches, cells and slide results.
 * Slides are identified by content id; a name is accepted as a label only when exactly one slide has it.
 */
import { ConfigError } from '../errors.ts';
import type { Store } from './db.ts';

export interface ExportSlide {
  id: string;
  name: string;
  path: string;
  width: number;
  height: number;
  mpp: number | null;
}

const SLIDE_COLUMNS = 's.id, s.name, s.path, s.width, s.height, s.mpp_x AS mpp';

/** Slides with any row of the run (patches, cells, slide results, per-slide marks), by name then id. */
export function slidesOfRunForExport(store: Store, runId: number): ExportSlide[] {
  return store.db
    .prepare(
      `SELECT ${SLIDE_COLUMNS} FROM slides s WHERE s.id IN (
         SELECT slide_id FROM run_slides WHERE run_id = @run UNION SELECT slide_id FROM patches WHERE run_id = @run
         UNION SELECT slide_id FROM cells WHERE run_id = @run UNION SELECT slide_id FROM slide_results WHERE run_id = @run)
       ORDER BY s.name, s.id`,
    )
    .all({ run: runId }) as ExportSlide[];
}

/** Every registered slide (for exports that need no run: annotations). */
export function allSlidesForExport(store: Store): ExportSlide[] {
  return store.db
    .prepare(`SELECT ${SLIDE_COLUMNS} FROM slides s ORDER BY s.name, s.id`)
    .all() as ExportSlide[];
}

/** A slide by content id, or by name when the name is unambiguous. */
export function resolveExportSlide(store: Store, spec: string): ExportSlide {
  const byId = store.db.prepare(`SELECT ${SLIDE_COLUMNS} FROM slides s WHERE s.id = ?`).get(spec) as
    | ExportSlide
    | undefined;
  if (byId) return byId;
  const byName = store.db
    .prepare(`SELECT ${SLIDE_COLUMNS} FROM slides s WHERE s.name = ? ORDER BY s.id`)
    .all(spec) as ExportSlide[];
  if (byName.length === 1) return byName[0];
  if (byName.length > 1)
    throw new ConfigError(
      `${byName.length} slides are named '${spec}' (ids ${byName.map((s) => s.id.slice(0, 12)).join(', ')}…); give the content id`,
    );
  throw new ConfigError(`no slide with id or name '${spec}' in the store`);
}

export interface ExportPatch {
  x: number;
  y: number;
  width: number;
  height: number;
  tissue: number | null;
  label: number | null;
  score: number | null;
  attention: number | null;
  attentionNorm: number | null;
}

export function patchesForExport(store: Store, runId: number, slideId: string): ExportPatch[] {
  return store.db
    .prepare(
      `SELECT x, y, width, height, tissue, label, score, attention, attention_norm AS attentionNorm
       FROM patches WHERE run_id = ? AND slide_id = ? ORDER BY y, x`,
    )
    .all(runId, slideId) as ExportPatch[];
}

export interface ExportCell {
  id: number;
  x: number;
  y: number;
  area: number | null;
  score: number | null;
}

/** Cells of a run on a slide, in row order; iterated so a slide with millions of cells is never held whole. */
export function cellsForExport(store: Store, runId: number, slideId: string): IterableIterator<ExportCell> {
  return store.db
    .prepare('SELECT id, x, y, area, score FROM cells WHERE run_id = ? AND slide_id = ? ORDER BY y, x, id')
    .iterate(runId, slideId) as IterableIterator<ExportCell>;
}

export interface ExportSlideResult {
  slideId: string;
  name: string;
  score: number | null;
  label: number | null;
  details: Record<string, unknown>;
}

export function slideResultsForExport(store: Store, runId: number): ExportSlideResult[] {
  return (
    store.db
      .prepare(
        `SELECT r.slide_id AS slideId, s.name, r.score, r.label, r.details_json AS details FROM slide_results r
         JOIN slides s ON s.id = r.slide_id WHERE r.run_id = ? ORDER BY s.name, s.id`,
      )
      .all(runId) as (Omit<ExportSlideResult, 'details'> & { details: string })[]
  ).map((r) => ({ ...r, details: JSON.parse(r.details) as Record<string, unknown> }));
}
