/**
 * Typed queries for embeddings and attention-MIL: patch boxes of a source run, embedding rows of an
 * 'embed' run, and the per-slide writes of 'embed' and 'mil' runs (rows + done mark in one transaction).
 */
import type { Store } from './db.ts';
import type { PatchRow } from './patches-queries.ts';
import { markSlideDone } from './runs.ts';

/** Old name of PatchRow, kept only until pipeline/mil/embed.ts imports PatchRow (stage-runner merge). */
export type PatchBoxRow = PatchRow;

/** Newest run of one of `kinds` that has patch rows on the slide (e.g. the latest 'patches' run). */
export function newestRunWithPatches(
  store: Store,
  slideId: string,
  kinds: readonly string[],
): number | undefined {
  const marks = kinds.map(() => '?').join(', ');
  const row = store.db
    .prepare(
      `SELECT r.id FROM runs r WHERE r.kind IN (${marks})
         AND EXISTS (SELECT 1 FROM patches p WHERE p.run_id = r.id AND p.slide_id = ?)
       ORDER BY r.id DESC LIMIT 1`,
    )
    .get(...kinds, slideId) as { id: number } | undefined;
  return row?.id;
}

/** Patch boxes of a run on a slide with at least `minTissue` tissue (rows without a fraction are kept). */
export function patchBoxes(store: Store, runId: number, slideId: string, minTissue = 0): PatchRow[] {
  return store.db
    .prepare(
      `SELECT x, y, width, height, level, mpp, tissue, label FROM patches
       WHERE run_id = ? AND slide_id = ? AND (tissue IS NULL OR tissue >= ?) ORDER BY y, x`,
    )
    .all(runId, slideId, minTissue) as PatchRow[];
}

export interface EmbeddedPatchRow extends PatchRow {
  embedding: Buffer;
}

/** Writes a slide's embeddings into an 'embed' run and marks the slide done, atomically. */
export function writeSlideEmbeddings(
  store: Store,
  runId: number,
  slideId: string,
  rows: readonly PatchRow[],
  blobs: readonly Buffer[],
): void {
  const insert = store.db.prepare(
    `INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue, label, embedding)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, slide_id, x, y) DO UPDATE SET width = excluded.width, height = excluded.height,
       level = excluded.level, mpp = excluded.mpp, tissue = excluded.tissue, label = excluded.label,
       embedding = excluded.embedding`,
  );
  store.db.transaction(() => {
    rows.forEach((r, i) => {
      insert.run(runId, slideId, r.x, r.y, r.width, r.height, r.level, r.mpp, r.tissue, r.label, blobs[i]);
    });
    markSlideDone(store, runId, slideId, rows.length);
  })();
}

export interface RunSlide {
  id: string;
  name: string;
  path: string;
  patches: number;
}

/** Slides a run has finished (done marks), with their names and item counts. */
export function doneSlidesOfRun(store: Store, runId: number): RunSlide[] {
  return store.db
    .prepare(
      `SELECT s.id, s.name, s.path, rs.items AS patches FROM run_slides rs JOIN slides s ON s.id = rs.slide_id
       WHERE rs.run_id = ? AND rs.status = 'done' ORDER BY s.name, s.id`,
    )
    .all(runId) as RunSlide[];
}

/** The embedded patches of a slide in an 'embed' run, in a fixed order (y, x). */
export function embeddedPatches(store: Store, runId: number, slideId: string): EmbeddedPatchRow[] {
  return store.db
    .prepare(
      `SELECT x, y, width, height, level, mpp, tissue, label, embedding FROM patches
       WHERE run_id = ? AND slide_id = ? AND embedding IS NOT NULL ORDER BY y, x`,
    )
    .all(runId, slideId) as EmbeddedPatchRow[];
}

export interface AttentionRow extends PatchRow {
  /** Instance score where the model has one (max-pooling MIL), else null. */
  score: number | null;
  attention: number;
  attentionNorm: number;
}

/** Writes a slide's MIL result (probability + every patch's attention) and marks the slide done. */
export function writeSlideAttention(
  store: Store,
  runId: number,
  slideId: string,
  rows: readonly AttentionRow[],
  result: { score: number; label: number; details: Record<string, unknown> },
): void {
  const insert = store.db.prepare(
    `INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue, label, score, attention, attention_norm)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, slide_id, x, y) DO UPDATE SET score = excluded.score, attention = excluded.attention,
       attention_norm = excluded.attention_norm`,
  );
  const upsertResult = store.db.prepare(
    `INSERT INTO slide_results (run_id, slide_id, score, label, details_json) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (run_id, slide_id) DO UPDATE SET score = excluded.score, label = excluded.label,
       details_json = excluded.details_json`,
  );
  store.db.transaction(() => {
    for (const r of rows) {
      insert.run(
        runId,
        slideId,
        r.x,
        r.y,
        r.width,
        r.height,
        r.level,
        r.mpp,
        r.tissue,
        r.label,
        r.score,
        r.attention,
        r.attentionNorm,
      );
    }
    upsertResult.run(runId, slideId, result.score, result.label, JSON.stringify(result.details));
    markSlideDone(store, runId, slideId, rows.length);
  })();
}

export interface SlideResultRow {
  slideId: string;
  name: string;
  score: number;
  label: number | null;
  details: Record<string, unknown>;
}

export function slideResultsOfRun(store: Store, runId: number): SlideResultRow[] {
  return (
    store.db
      .prepare(
        `SELECT r.slide_id AS slideId, s.name, r.score, r.label, r.details_json FROM slide_results r
         JOIN slides s ON s.id = r.slide_id WHERE r.run_id = ? ORDER BY s.name`,
      )
      .all(runId) as (Omit<SlideResultRow, 'details'> & { details_json: string })[]
  ).map(({ details_json, ...r }) => ({ ...r, details: JSON.parse(details_json) as Record<string, unknown> }));
}

/** Id of the registered model at `path` (absolute), if any. */
export function modelIdByPath(store: Store, path: string): number | undefined {
  const row = store.db.prepare('SELECT id FROM models WHERE path = ?').get(path) as
    | { id: number }
    | undefined;
  return row?.id;
}

/** Newest run of `kind` whose config has `out` = `outDir`, with its status (finished trainings). */
export function runByOutDir(
  store: Store,
  kind: string,
  outDir: string,
): { id: number; status: string } | undefined {
  return store.db
    .prepare(
      `SELECT id, status FROM runs WHERE kind = ? AND json_extract(config_json, '$.out') = ? ORDER BY id DESC LIMIT 1`,
    )
    .get(kind, outDir) as { id: number; status: string } | undefined;
}
