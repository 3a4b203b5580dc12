/**
 * Read-only queries the viewer needs: runs with data on a slide (with their out-of-distribution verdicts),
 * patch values for heatmaps, cells in a viewport box (R*Tree), top-k attention patches, the patch
 * classifier behind a run, plate wells.
 * Every query is parameterised; nothing here writes.
 */
import type { Store } from './db.ts';

/** Which patch column a heatmap shows. */
export type PatchValue = 'score' | 'attention';

export interface SlideRunSummary {
  runId: number;
  kind: string;
  name: string | null;
  status: string;
  /** Patch rows with a non-null score / attention, and cells, of this run on this slide. */
  scored: number;
  attended: number;
  cells: number;
  /** Slide-level result (e.g. MIL probability) when the run wrote one. */
  slideScore: number | null;
  /** The run's out-of-distribution verdict on this slide (pipeline/ood), when its model has a reference. */
  ood: { outOfDistribution: boolean; reason: string } | null;
}

/** Runs that wrote anything the viewer can draw on this slide, newest first. */
export function listSlideRuns(store: Store, slideId: string): SlideRunSummary[] {
  const rows = store.db
    .prepare(
      `WITH p AS (
         SELECT run_id, COUNT(score) AS scored, COUNT(COALESCE(attention_norm, attention)) AS attended
         FROM patches WHERE slide_id = @slide GROUP BY run_id),
       c AS (SELECT run_id, COUNT(*) AS cells FROM cells WHERE slide_id = @slide GROUP BY run_id),
       ids AS (SELECT run_id FROM p UNION SELECT run_id FROM c
               UNION SELECT run_id FROM slide_results WHERE slide_id = @slide)
       SELECT r.id AS runId, r.kind, r.name, r.status,
              COALESCE(p.scored, 0) AS scored, COALESCE(p.attended, 0) AS attended,
              COALESCE(c.cells, 0) AS cells, sr.score AS slideScore,
              o.out_of_distribution AS oodFlag, o.reason AS oodReason
       FROM ids JOIN runs r ON r.id = ids.run_id
       LEFT JOIN p ON p.run_id = r.id LEFT JOIN c ON c.run_id = r.id
       LEFT JOIN slide_results sr ON sr.run_id = r.id AND sr.slide_id = @slide
       LEFT JOIN slide_ood o ON o.run_id = r.id AND o.slide_id = @slide
       ORDER BY r.id DESC`,
    )
    .all({ slide: slideId }) as (Omit<SlideRunSummary, 'ood'> & {
    oodFlag: number | null;
    oodReason: string | null;
  })[];
  return rows.map(({ oodFlag, oodReason, ...r }) => ({
    ...r,
    ood: oodFlag === null ? null : { outOfDistribution: oodFlag === 1, reason: oodReason ?? '' },
  }));
}

export interface OodFlag {
  runId: number;
  kind: string;
  name: string | null;
  reason: string;
}

/** Out-of-distribution verdicts (only those that fired) by slide id, newest run first, for the slide list. */
export function oodFlagsBySlide(store: Store): Map<string, OodFlag[]> {
  const rows = store.db
    .prepare(
      `SELECT o.slide_id AS slideId, r.id AS runId, r.kind, r.name, o.reason FROM slide_ood o
       JOIN runs r ON r.id = o.run_id WHERE o.out_of_distribution = 1 ORDER BY r.id DESC`,
    )
    .all() as (OodFlag & { slideId: string })[];
  const out = new Map<string, OodFlag[]>();
  for (const { slideId, ...flag } of rows) out.set(slideId, [...(out.get(slideId) ?? []), flag]);
  return out;
}

/**
 * The patch classifier behind a run, through the store: the run's own model when it is one (an FCN
 * 'infer' run), else its parent's, and so on (a 'mil' run → its 'embed' run → the encoder). At most a few
 * links are followed; undefined when none is a patch classifier.
 */
export function patchClassifierOfRun(
  store: Store,
  runId: number,
): { id: number; path: string; name: string } | undefined {
  const step = store.db.prepare(
    `SELECT r.parent_run_id AS parent, m.id, m.path, m.name, m.kind FROM runs r
     LEFT JOIN models m ON m.id = r.model_id WHERE r.id = ?`,
  );
  let id: number | null = runId;
  for (let depth = 0; id !== null && depth < 4; depth++) {
    const row = step.get(id) as
      | { parent: number | null; id: number | null; path: string; name: string; kind: string | null }
      | undefined;
    if (!row) return undefined;
    if (row.kind === 'patch-classifier' && row.id !== null)
      return { id: row.id, path: row.path, name: row.name };
    id = row.parent;
  }
  return undefined;
}

export interface PatchCell {
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
}

/**
 * Patch rows of a run on a slide with the chosen value. Attention uses the per-slide normalised
 * column when present, else the raw weight (the caller rescales).
 */
export function patchValues(store: Store, runId: number, slideId: string, value: PatchValue): PatchCell[] {
  const column = value === 'score' ? 'score' : 'COALESCE(attention_norm, attention)';
  return store.db
    .prepare(
      `SELECT x, y, width, height, ${column} AS value FROM patches
       WHERE run_id = ? AND slide_id = ? AND ${column} IS NOT NULL`,
    )
    .all(runId, slideId) as PatchCell[];
}

export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export interface CellPoint {
  x: number;
  y: number;
  score: number | null;
}

/** Cells of a run on a slide inside a level-0 box, via the R*Tree; at most `limit`, plus the total. */
export function cellsInBox(
  store: Store,
  runId: number,
  slideId: string,
  box: Box,
  limit: number,
): { total: number; cells: CellPoint[] } {
  const where = `r.min_x >= @x0 AND r.max_x <= @x1 AND r.min_y >= @y0 AND r.max_y <= @y1
                 AND c.run_id = @run AND c.slide_id = @slide`;
  const params = { ...box, run: runId, slide: slideId };
  const total = (
    store.db
      .prepare(`SELECT COUNT(*) AS n FROM cells_rtree r JOIN cells c ON c.id = r.id WHERE ${where}`)
      .get(params) as { n: number }
  ).n;
  const cells = store.db
    .prepare(
      `SELECT c.x, c.y, c.score FROM cells_rtree r JOIN cells c ON c.id = r.id WHERE ${where} LIMIT @limit`,
    )
    .all({ ...params, limit }) as CellPoint[];
  return { total, cells };
}

export interface AttentionPatch {
  x: number;
  y: number;
  width: number;
  height: number;
  attention: number;
  score: number | null;
}

/** The k patches with the highest attention of a run on a slide. */
export function topAttention(store: Store, runId: number, slideId: string, k: number): AttentionPatch[] {
  return store.db
    .prepare(
      `SELECT x, y, width, height, COALESCE(attention_norm, attention) AS attention, score FROM patches
       WHERE run_id = ? AND slide_id = ? AND COALESCE(attention_norm, attention) IS NOT NULL
       ORDER BY COALESCE(attention_norm, attention) DESC, y, x LIMIT ?`,
    )
    .all(runId, slideId, k) as AttentionPatch[];
}

/** One patch row of a run on a slide by its level-0 origin, or undefined. */
export function patchAt(
  store: Store,
  runId: number,
  slideId: string,
  x: number,
  y: number,
): { x: number; y: number; width: number; height: number } | undefined {
  return store.db
    .prepare('SELECT x, y, width, height FROM patches WHERE run_id = ? AND slide_id = ? AND x = ? AND y = ?')
    .get(runId, slideId, x, y) as { x: number; y: number; width: number; height: number } | undefined;
}

export interface PlateRun {
  runId: number;
  name: string | null;
  status: string;
  plates: string[];
}

/** Counting runs that have wells, for the plate list. */
export function listPlateRuns(store: Store): PlateRun[] {
  const rows = store.db
    .prepare(
      `SELECT r.id AS runId, r.name, r.status, GROUP_CONCAT(DISTINCT w.plate) AS plates
       FROM runs r JOIN wells w ON w.run_id = r.id GROUP BY r.id ORDER BY r.id DESC`,
    )
    .all() as { runId: number; name: string | null; status: string; plates: string }[];
  return rows.map((r) => ({ ...r, plates: r.plates.split(',').sort() }));
}

export interface WellRow {
  plate: string;
  well: string;
  row: number;
  col: number;
  fields: number;
  count: number;
  meanArea: number | null;
  /** Registered images (slides) of this well's fields, in field order. */
  images: { slideId: string; field: number | null; count: number }[];
}

export function plateWells(store: Store, runId: number, plate: string): WellRow[] {
  const wells = store.db
    .prepare(
      `SELECT plate, well, row, col, fields, count, mean_area AS meanArea FROM wells
       WHERE run_id = ? AND plate = ? ORDER BY row, col`,
    )
    .all(runId, plate) as Omit<WellRow, 'images'>[];
  const images = store.db
    .prepare(
      `SELECT well, slide_id AS slideId, field, count FROM counts
       WHERE run_id = ? AND plate = ? ORDER BY well, field, slide_id`,
    )
    .all(runId, plate) as { well: string; slideId: string; field: number | null; count: number }[];
  const byWell = new Map<string, WellRow['images']>();
  for (const { well, ...img } of images) {
    const list = byWell.get(well) ?? [];
    list.push(img);
    byWell.set(well, list);
  }
  return wells.map((w) => ({ ...w, images: byWell.get(w.well) ?? [] }));
}

/**
 * Images registered by counting runs over image files (plate fields or a folder of images), to list them
 * apart from whole slides. A slide counted as a whole (`wsi count <slide> --region|--tissue`, whose run
 * config names the slide) stays a slide.
 */
export function plateImageSlides(
  store: Store,
): Map<string, { runId: number; plate: string | null; well: string | null }> {
  const rows = store.db
    .prepare(
      `SELECT c.slide_id AS slideId, MAX(c.run_id) AS runId, c.plate, c.well FROM counts c
       JOIN runs r ON r.id = c.run_id
       WHERE json_extract(r.config_json, '$.slide') IS NULL
       GROUP BY c.slide_id`,
    )
    .all() as { slideId: string; runId: number; plate: string | null; well: string | null }[];
  return new Map(rows.map((r) => [r.slideId, { runId: r.runId, plate: r.plate, well: r.well }]));
}

export interface CellDensity {
  cols: number;
  rows: number;
  /** Level-0 size of one bin. */
  binWidth: number;
  binHeight: number;
  total: number;
  max: number;
  /** Row-major counts, cols × rows. */
  counts: number[];
}

/** Cells of a run on a slide counted in cols × rows bins over a level-0 box (R*Tree), for the density layer. */
export function cellDensity(
  store: Store,
  runId: number,
  slideId: string,
  box: Box,
  cols: number,
  rows: number,
): CellDensity {
  const binWidth = Math.max(1e-6, (box.x1 - box.x0) / cols);
  const binHeight = Math.max(1e-6, (box.y1 - box.y0) / rows);
  const bins = store.db
    .prepare(
      `SELECT MIN(@cols - 1, CAST((c.x - @x0) / @bw AS INTEGER)) AS i, MIN(@rows - 1, CAST((c.y - @y0) / @bh AS INTEGER)) AS j,
              COUNT(*) AS n
       FROM cells_rtree r JOIN cells c ON c.id = r.id
       WHERE r.min_x >= @x0 AND r.max_x <= @x1 AND r.min_y >= @y0 AND r.max_y <= @y1
         AND c.run_id = @run AND c.slide_id = @slide
       GROUP BY i, j`,
    )
    .all({ ...box, cols, rows, bw: binWidth, bh: binHeight, run: runId, slide: slideId }) as {
    i: number;
    j: number;
    n: number;
  }[];
  const counts = new Array<number>(cols * rows).fill(0);
  let total = 0;
  let max = 0;
  for (const b of bins) {
    counts[b.j * cols + b.i] += b.n;
    total += b.n;
  }
  for (const n of counts) max = Math.max(max, n);
  return { cols, rows, binWidth, binHeight, total, max, counts };
}
