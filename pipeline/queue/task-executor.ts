/**
 * `taskExecutor`: the executor for a run's tasks. With queue settings (a command's --queue), BullMQ jobs
 * scoped to the run; without, the local pool the stage used before.
 */
import { basename, resolve } from 'node:path';
import type { WorkerPool } from '../pool.ts';
import type { Store } from '../store/index.ts';
import type { TaskExecutor, TaskKind, TaskOptions, TaskPayload, TaskResult } from '../tasks.ts';

export interface QueueFlags {
  url: string;
  attempts?: number;
  slideBaseUrl?: string;
  pathMaps?: string[];
  size?: number;
}

/**
 * The executor for a run's tasks: with queue flags, BullMQ jobs scoped to this run (store file, run id
 * and the run's start time, so a resumed run finds its jobs and a new store never sees old ones);
 * otherwise `local()`, the pool the command used before.
 */
export async function taskExecutor(
  queue: QueueFlags | undefined,
  run: { store?: Store; runId?: number; key?: string; label: string },
  local: () => WorkerPool,
): Promise<WorkerPool> {
  if (!queue) return local();
  const [{ createQueueExecutor }, { parsePathMaps }] = await Promise.all([
    import('./executor.ts'),
    import('./resources.ts'),
  ]);
  let runKey = run.key;
  if (!runKey && run.store && run.runId !== undefined) {
    const row = run.store.db.prepare('SELECT started_at AS s FROM runs WHERE id = ?').get(run.runId) as
      | { s: string }
      | undefined;
    runKey = `${resolve(run.store.path)}#${run.runId}@${row?.s ?? ''}`;
  }
  return createQueueExecutor({
    url: queue.url,
    runKey: runKey ?? `${run.label}@${Date.now()}`,
    label: run.store ? `${run.label} in ${basename(run.store.path)}` : run.label,
    attempts: queue.attempts,
    size: queue.size,
    pathMaps: parsePathMaps(queue.slideBaseUrl, queue.pathMaps ?? []),
  });
}

/**
 * A stage's executor on the queue (typed like `poolExecutor`). Job ids are scoped by the store file, and
 * the stage runner's `run/slide/chunk` id plus the payload's hash name each job, so the executor needs
 * no run id before the run begins and a resubmitted run finds its own jobs.
 */
export async function queueStageExecutor(
  queue: QueueFlags,
  store: Store,
  label: string,
): Promise<TaskExecutor & { readonly pending: number }> {
  const [{ createQueueExecutor }, { parsePathMaps }] = await Promise.all([
    import('./executor.ts'),
    import('./resources.ts'),
  ]);
  const exec = await createQueueExecutor({
    url: queue.url,
    runKey: `store ${resolve(store.path)}`,
    label: `${label} in ${basename(store.path)}`,
    attempts: queue.attempts,
    size: queue.size,
    pathMaps: parsePathMaps(queue.slideBaseUrl, queue.pathMaps ?? []),
  });
  return {
    size: exec.size,
    get pending() {
      return exec.pending;
    },
    run: <K extends TaskKind>(kind: K, payload: TaskPayload<K>, opts?: TaskOptions) =>
      exec.run<TaskResult<K>>(kind, payload, opts),
    close: () => exec.close(),
  };
}

/** The executor a stage command uses: the queue with `--queue`, else `local()` (the pool as before). */
export async function stageExecutor(
  queue: QueueFlags | undefined,
  store: Store,
  label: string,
  local: () => TaskExecutor,
): Promise<TaskExecutor> {
  return queue ? queueStageExecutor(queue, store, label) : local();
}
