/**
 * Patch rows of a run. Inserts are keyed by (run, slide, x, y) and ignore rows already there, so a resumed
 * run writes each patch exactly once.
 */
import type { Store } from './db.ts';

/** One patch of a run: level-0 box, where its pixels were read, tissue fraction and label. */
export interface PatchRow {
  x: number;
  y: number;
  width: number;
  height: number;
  level: number | null;
  mpp: number | null;
  tissue: number | null;
  label: number | null;
}

export interface StoredPatchRow extends PatchRow {
  runId: number;
  slideId: string;
}

/** Inserts rows (skipping ones already stored) in one transaction; returns how many were new. */
export function insertPatches(
  store: Store,
  runId: number,
  slideId: string,
  rows: readonly PatchRow[],
): number {
  const ins = store.db.prepare(
    `INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue, label)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, slide_id, x, y) DO NOTHING`,
  );
  let added = 0;
  store.db.transaction(() => {
    for (const r of rows) {
      added += ins.run(
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
      ).changes;
    }
  })();
  return added;
}

/** "x,y" keys of the patches of a slide already stored in a run (what a resumed run skips). */
export function storedPatchKeys(store: Store, runId: number, slideId: string): Set<string> {
  const rows = store.db
    .prepare('SELECT x, y FROM patches WHERE run_id = ? AND slide_id = ?')
    .raw()
    .all(runId, slideId) as Array<[number, number]>;
  return new Set(rows.map(([x, y]) => `${x},${y}`));
}

interface RawPatch {
  run_id: number;
  slide_id: string;
  x: number;
  y: number;
  width: number;
  height: number;
  level: number | null;
  mpp: number | null;
  tissue: number | null;
  label: number | null;
}

/** Rows of a run (optionally one slide), ordered by slide, y, x. */
export function listPatches(store: Store, runId: number, slideId?: string): StoredPatchRow[] {
  const rows = (
    slideId === undefined
      ? store.db.prepare('SELECT * FROM patches WHERE run_id = ? ORDER BY slide_id, y, x').all(runId)
      : store.db
          .prepare('SELECT * FROM patches WHERE run_id = ? AND slide_id = ? ORDER BY y, x')
          .all(runId, slideId)
  ) as RawPatch[];
  return rows.map((r) => ({
    runId: r.run_id,
    slideId: r.slide_id,
    x: r.x,
    y: r.y,
    width: r.width,
    height: r.height,
    level: r.level,
    mpp: r.mpp,
    tissue: r.tissue,
    label: r.label,
  }));
}

/** Patch counts of a run per label (null = unknown). */
export function patchCounts(
  store: Store,
  runId: number,
): { total: number; tumour: number; normal: number; unknown: number } {
  const r = store.db
    .prepare(
      `SELECT COUNT(*) AS total, SUM(label = 1) AS tumour, SUM(label = 0) AS normal, SUM(label IS NULL) AS unknown
       FROM patches WHERE run_id = ?`,
    )
    .get(runId) as { total: number; tumour: number | null; normal: number | null; unknown: number | null };
  return { total: r.total, tumour: r.tumour ?? 0, normal: r.normal ?? 0, unknown: r.unknown ?? 0 };
}

/** Rows for the export index: patches of a run with their slide's name, ordered by slide name, y, x. */
export function exportIndexRows(store: Store, runId: number): Array<StoredPatchRow & { slideName: string }> {
  const rows = store.db
    .prepare(
      `SELECT p.*, s.name AS slide_name FROM patches p JOIN slides s ON s.id = p.slide_id
       WHERE p.run_id = ? ORDER BY s.name, p.slide_id, p.y, p.x`,
    )
    .all(runId) as Array<RawPatch & { slide_name: string }>;
  return rows.map((r) => ({
    runId: r.run_id,
    slideId: r.slide_id,
    slideName: r.slide_name,
    x: r.x,
    y: r.y,
    width: r.width,
    height: r.height,
    level: r.level,
    mpp: r.mpp,
    tissue: r.tissue,
    label: r.label,
  }));
}
