/** Typed queries of counting runs: per-image counts, cell centroids (R*Tree kept by triggers), per-well aggregates. */
import type { Store } from './db.ts';

export interface CountRow {
  runId: number;
  slideId: string;
  image: string;
  plate?: string;
  well?: string;
  row?: number;
  col?: number;
  field?: number;
  count: number;
  meanArea?: number;
}

export interface CellRow {
  x: number;
  y: number;
  area?: number;
  score?: number;
}

export function upsertCount(store: Store, r: CountRow): void {
  store.db
    .prepare(
      `INSERT INTO counts (run_id, slide_id, image, plate, well, row, col, field, count, mean_area)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, slide_id) DO UPDATE SET image = excluded.image, plate = excluded.plate,
         well = excluded.well, row = excluded.row, col = excluded.col, field = excluded.field,
         count = excluded.count, mean_area = excluded.mean_area`,
    )
    .run(
      r.runId,
      r.slideId,
      r.image,
      r.plate ?? null,
      r.well ?? null,
      r.row ?? null,
      r.col ?? null,
      r.field ?? null,
      r.count,
      r.meanArea ?? null,
    );
}

/** Inserts cells; a cell already stored for (run, slide, x, y) is left as it is. Returns rows inserted. */
export function insertCells(store: Store, runId: number, slideId: string, cells: readonly CellRow[]): number {
  const stmt = store.db.prepare(
    'INSERT OR IGNORE INTO cells (run_id, slide_id, x, y, area, score) VALUES (?, ?, ?, ?, ?, ?)',
  );
  let n = 0;
  for (const c of cells) n += stmt.run(runId, slideId, c.x, c.y, c.area ?? null, c.score ?? null).changes;
  return n;
}

export function deleteCells(store: Store, runId: number, slideId: string): void {
  store.db.prepare('DELETE FROM cells WHERE run_id = ? AND slide_id = ?').run(runId, slideId);
}

export function countsOfRun(store: Store, runId: number): CountRow[] {
  const rows = store.db
    .prepare(
      `SELECT run_id, slide_id, image, plate, well, row, col, field, count, mean_area FROM counts
       WHERE run_id = ? ORDER BY image`,
    )
    .all(runId) as {
    run_id: number;
    slide_id: string;
    image: string;
    plate: string | null;
    well: string | null;
    row: number | null;
    col: number | null;
    field: number | null;
    count: number;
    mean_area: number | null;
  }[];
  return rows.map((r) => ({
    runId: r.run_id,
    slideId: r.slide_id,
    image: r.image,
    plate: r.plate ?? undefined,
    well: r.well ?? undefined,
    row: r.row ?? undefined,
    col: r.col ?? undefined,
    field: r.field ?? undefined,
    count: r.count,
    meanArea: r.mean_area ?? undefined,
  }));
}

export interface WellRow {
  plate: string;
  well: string;
  row: number;
  col: number;
  fields: number;
  count: number;
  meanArea?: number;
}

/** Replaces a run's well aggregates (recomputed from all its counts after each run or resume). */
export function replaceWells(store: Store, runId: number, wells: readonly WellRow[]): void {
  store.db.transaction(() => {
    store.db.prepare('DELETE FROM wells WHERE run_id = ?').run(runId);
    const stmt = store.db.prepare(
      'INSERT INTO wells (run_id, plate, well, row, col, fields, count, mean_area) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
    for (const w of wells)
      stmt.run(runId, w.plate, w.well, w.row, w.col, w.fields, w.count, w.meanArea ?? null);
  })();
}

/** Cells of a run inside a level-0 box, through the R*Tree (for the viewer). */
export function cellsInBox(
  store: Store,
  runId: number,
  slideId: string,
  box: { minX: number; minY: number; maxX: number; maxY: number },
): CellRow[] {
  return store.db
    .prepare(
      `SELECT c.x, c.y, c.area, c.score FROM cells_rtree r JOIN cells c ON c.id = r.id
       WHERE r.min_x >= ? AND r.max_x <= ? AND r.min_y >= ? AND r.max_y <= ? AND c.run_id = ? AND c.slide_id = ?`,
    )
    .all(box.minX, box.maxX, box.minY, box.maxY, runId, slideId) as CellRow[];
}
