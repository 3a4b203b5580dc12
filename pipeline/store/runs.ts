/**
 * Runs and resume. A run is identified by its kind and canonical config: running the same command
 * again continues the same run, skipping slides already marked done. A slide's rows and its done
 * mark are written in one transaction, so a killed run never leaves half a slide behind.
 */
import { createHash } from 'node:crypto';
import type { Store } from './db.ts';

export type RunStatus = 'running' | 'done' | 'failed';

export interface RunRow {
  id: number;
  kind: string;
  name: string | null;
  config: Record<string, unknown>;
  status: RunStatus;
  modelId: number | null;
  parentRunId: number | null;
  startedAt: string;
  finishedAt: string | null;
  elapsedS: number;
  attempts: number;
  counts: Record<string, unknown>;
  error: string | null;
}

/** JSON with sorted keys, so equal configs hash equally whatever the key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

export function configHash(config: unknown): string {
  return createHash('sha256').update(canonicalJson(config)).digest('hex');
}

export interface BeginRunOptions {
  name?: string;
  modelId?: number;
  parentRunId?: number;
}

/** Starts a run, or resumes the run with the same kind and config. */
export function beginRun(
  store: Store,
  kind: string,
  config: Record<string, unknown>,
  options: BeginRunOptions = {},
): { runId: number; resumed: boolean } {
  const hash = configHash(config);
  return store.db.transaction(() => {
    const existing = store.db
      .prepare('SELECT id FROM runs WHERE kind = ? AND config_hash = ?')
      .get(kind, hash) as { id: number } | undefined;
    if (existing) {
      store.db
        .prepare(
          `UPDATE runs SET status = 'running', attempts = attempts + 1, error = NULL, finished_at = NULL,
             attempt_started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?`,
        )
        .run(existing.id);
      return { runId: existing.id, resumed: true };
    }
    const info = store.db
      .prepare(
        `INSERT INTO runs (kind, name, config_json, config_hash, status, model_id, parent_run_id)
         VALUES (?, ?, ?, ?, 'running', ?, ?)`,
      )
      .run(
        kind,
        options.name ?? null,
        canonicalJson(config),
        hash,
        options.modelId ?? null,
        options.parentRunId ?? null,
      );
    return { runId: Number(info.lastInsertRowid), resumed: false };
  })();
}

export function isSlideDone(store: Store, runId: number, slideId: string): boolean {
  const row = store.db
    .prepare('SELECT status FROM run_slides WHERE run_id = ? AND slide_id = ?')
    .get(runId, slideId) as { status: string } | undefined;
  return row?.status === 'done';
}

/** Marks a slide done; call inside the transaction that wrote the slide's rows. */
export function markSlideDone(store: Store, runId: number, slideId: string, items: number): void {
  store.db
    .prepare(
      `INSERT INTO run_slides (run_id, slide_id, status, items, finished_at)
       VALUES (?, ?, 'done', ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
       ON CONFLICT (run_id, slide_id) DO UPDATE SET status = 'done', items = excluded.items,
         error = NULL, finished_at = excluded.finished_at`,
    )
    .run(runId, slideId, items);
}

export function markSlideFailed(store: Store, runId: number, slideId: string, error: string): void {
  store.db
    .prepare(
      `INSERT INTO run_slides (run_id, slide_id, status, error) VALUES (?, ?, 'failed', ?)
       ON CONFLICT (run_id, slide_id) DO UPDATE SET status = 'failed', error = excluded.error`,
    )
    .run(runId, slideId, error);
}

function closeAttempt(
  store: Store,
  runId: number,
  status: RunStatus,
  counts: unknown,
  error: string | null,
): void {
  store.db
    .prepare(
      `UPDATE runs SET status = ?, error = ?,
         counts_json = COALESCE(?, counts_json),
         finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
         elapsed_s = elapsed_s + (julianday('now') - julianday(attempt_started_at)) * 86400.0
       WHERE id = ?`,
    )
    .run(status, error, counts === undefined ? null : canonicalJson(counts), runId);
}

export function finishRun(store: Store, runId: number, counts?: Record<string, unknown>): void {
  closeAttempt(store, runId, 'done', counts, null);
}

export function failRun(store: Store, runId: number, error: string): void {
  closeAttempt(store, runId, 'failed', undefined, error);
}

interface RawRun {
  id: number;
  kind: string;
  name: string | null;
  config_json: string;
  status: RunStatus;
  model_id: number | null;
  parent_run_id: number | null;
  started_at: string;
  finished_at: string | null;
  elapsed_s: number;
  attempts: number;
  counts_json: string;
  error: string | null;
}

function fromRaw(r: RawRun): RunRow {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    config: JSON.parse(r.config_json) as Record<string, unknown>,
    status: r.status,
    modelId: r.model_id,
    parentRunId: r.parent_run_id,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    elapsedS: r.elapsed_s,
    attempts: r.attempts,
    counts: JSON.parse(r.counts_json) as Record<string, unknown>,
    error: r.error,
  };
}

export function getRun(store: Store, runId: number): RunRow | undefined {
  const r = store.db.prepare('SELECT * FROM runs WHERE id = ?').get(runId) as RawRun | undefined;
  return r ? fromRaw(r) : undefined;
}

export function listRuns(store: Store, kind?: string): RunRow[] {
  const rows = (
    kind
      ? store.db.prepare('SELECT * FROM runs WHERE kind = ? ORDER BY id').all(kind)
      : store.db.prepare('SELECT * FROM runs ORDER BY id').all()
  ) as RawRun[];
  return rows.map(fromRaw);
}

export interface RunFailure {
  source: string;
  slideId: string | null;
  step: string;
  error: string;
  failedAt: string;
}

/** Records an input that failed in a run (replacing an earlier failure of the same input). */
export function recordFailure(
  store: Store,
  runId: number,
  f: { source: string; slideId?: string; step: string; error: string },
): void {
  store.db
    .prepare(
      `INSERT INTO run_failures (run_id, source, slide_id, step, error) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run_id, source) DO UPDATE SET slide_id = excluded.slide_id, step = excluded.step,
         error = excluded.error, failed_at = excluded.failed_at`,
    )
    .run(runId, f.source, f.slideId ?? null, f.step, f.error);
  if (f.slideId) markSlideFailed(store, runId, f.slideId, f.error);
}

/** Forgets an input's earlier failure (it has just succeeded). */
export function clearFailure(store: Store, runId: number, source: string, slideId?: string): void {
  store.db
    .prepare('DELETE FROM run_failures WHERE run_id = ? AND (source = ? OR slide_id = ?)')
    .run(runId, source, slideId ?? null);
}

export function runFailures(store: Store, runId: number): RunFailure[] {
  return (
    store.db
      .prepare(
        'SELECT source, slide_id, step, error, failed_at FROM run_failures WHERE run_id = ? ORDER BY source',
      )
      .all(runId) as Array<{
      source: string;
      slide_id: string | null;
      step: string;
      error: string;
      failed_at: string;
    }>
  ).map((r) => ({
    source: r.source,
    slideId: r.slide_id,
    step: r.step,
    error: r.error,
    failedAt: r.failed_at,
  }));
}

export function setRunTimings(store: Store, runId: number, timings: Record<string, unknown>): void {
  store.db.prepare('UPDATE runs SET timings_json = ? WHERE id = ?').run(canonicalJson(timings), runId);
}

export function runTimings(store: Store, runId: number): Record<string, unknown> {
  const r = store.db.prepare('SELECT timings_json FROM runs WHERE id = ?').get(runId) as
    | { timings_json: string }
    | undefined;
  return r ? (JSON.parse(r.timings_json) as Record<string, unknown>) : {};
}

/** Slides of a run by status. */
export function runSlideCounts(store: Store, runId: number): { done: number; failed: number; items: number } {
  const r = store.db
    .prepare(
      `SELECT coalesce(sum(status = 'done'), 0) AS done, coalesce(sum(status = 'failed'), 0) AS failed,
              coalesce(sum(CASE WHEN status = 'done' THEN items ELSE 0 END), 0) AS items
       FROM run_slides WHERE run_id = ?`,
    )
    .get(runId) as { done: number; failed: number; items: number };
  const unopened = store.db
    .prepare('SELECT count(*) AS n FROM run_failures WHERE run_id = ? AND slide_id IS NULL')
    .get(runId) as { n: number };
  return { done: r.done, failed: r.failed + unopened.n, items: r.items };
}
