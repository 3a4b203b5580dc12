/** Typed queries for training and evaluation: patch scores of a run, training-log rows. */
import type { Store } from './db.ts';

export interface ScoredPatchRow {
  slideId: string;
  slideName: string;
  slideWidth: number;
  slideHeight: number;
  mpp: number | null;
  x: number;
  y: number;
  width: number;
  height: number;
  score: number;
  label: number | null;
}

/** Every scored patch of a run with its slide's name, size and µm/px, ordered by slide. */
export function scoredPatchesOfRun(store: Store, runId: number): ScoredPatchRow[] {
  return store.db
    .prepare(
      `SELECT p.slide_id AS slideId, s.name AS slideName, s.width AS slideWidth, s.height AS slideHeight,
              s.mpp_x AS mpp, p.x, p.y, p.width, p.height, p.score, p.label
       FROM patches p JOIN slides s ON s.id = p.slide_id
       WHERE p.run_id = ? AND p.score IS NOT NULL
       ORDER BY s.name, p.y, p.x`,
    )
    .all(runId) as ScoredPatchRow[];
}

/** Slides a run covered (done marks), including those where no patch scored. */
export function slidesOfRun(
  store: Store,
  runId: number,
): { id: string; name: string; width: number; height: number; mpp: number | null }[] {
  return store.db
    .prepare(
      `SELECT s.id, s.name, s.width, s.height, s.mpp_x AS mpp FROM slides s
       WHERE s.id IN (SELECT slide_id FROM run_slides WHERE run_id = ? UNION SELECT slide_id FROM patches WHERE run_id = ?)
       ORDER BY s.name`,
    )
    .all(runId, runId) as { id: string; name: string; width: number; height: number; mpp: number | null }[];
}

export function writeTrainingLog(
  store: Store,
  runId: number,
  step: number,
  loss: number | null,
  metrics: Record<string, unknown>,
): void {
  store.db
    .prepare(
      `INSERT INTO training_log (run_id, step, loss, metrics_json) VALUES (?, ?, ?, ?)
       ON CONFLICT (run_id, step) DO UPDATE SET loss = excluded.loss, metrics_json = excluded.metrics_json`,
    )
    .run(runId, step, loss, JSON.stringify(metrics));
}

export function readTrainingLog(
  store: Store,
  runId: number,
): { step: number; loss: number | null; metrics: Record<string, unknown> }[] {
  return (
    store.db
      .prepare('SELECT step, loss, metrics_json FROM training_log WHERE run_id = ? ORDER BY step')
      .all(runId) as { step: number; loss: number | null; metrics_json: string }[]
  ).map((r) => ({
    step: r.step,
    loss: r.loss,
    metrics: JSON.parse(r.metrics_json) as Record<string, unknown>,
  }));
}
