/** Typed writes of FCN inference runs: score-map points as patch rows, slide scores, partial cleanup. */
import type { Store } from './db.ts';
import type { PatchRow } from './patches-queries.ts';

/** A patch row of an inference run: always at a µm/px, with its tissue fraction and score. */
export interface ScorePoint extends Omit<PatchRow, 'mpp' | 'tissue' | 'label'> {
  mpp: number;
  tissue: number;
  score: number;
}

/** Removes a slide's rows of a run (a slide that was interrupted is redone from scratch). */
export function deleteSlideScores(store: Store, runId: number, slideId: string): void {
  store.db.prepare('DELETE FROM patches WHERE run_id = ? AND slide_id = ?').run(runId, slideId);
  store.db.prepare('DELETE FROM slide_results WHERE run_id = ? AND slide_id = ?').run(runId, slideId);
}

/** Inserts (or overwrites) score points in one transaction. */
export function insertScorePoints(
  store: Store,
  runId: number,
  slideId: string,
  points: readonly ScorePoint[],
): void {
  const stmt = store.db.prepare(
    `INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue, score)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (run_id, slide_id, x, y) DO UPDATE SET width = excluded.width, height = excluded.height,
       level = excluded.level, mpp = excluded.mpp, tissue = excluded.tissue, score = excluded.score`,
  );
  store.db.transaction(() => {
    for (const p of points) {
      stmt.run(runId, slideId, p.x, p.y, p.width, p.height, p.level, p.mpp, p.tissue, p.score);
    }
  })();
}

export function upsertSlideScore(
  store: Store,
  runId: number,
  slideId: string,
  score: number | null,
  details: Record<string, unknown>,
): void {
  store.db
    .prepare(
      `INSERT INTO slide_results (run_id, slide_id, score, details_json) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_id, slide_id) DO UPDATE SET score = excluded.score, details_json = excluded.details_json`,
    )
    .run(runId, slideId, score, JSON.stringify(details));
}
