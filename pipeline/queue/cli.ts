/**
 * What a stage command needs to run its tasks on the queue: the shared flags, their usage text, and
 * `taskExecutor`, which gives the queue executor with --queue and the local pool without it.
 */
import { basename, resolve } from 'node:path';
import type { Parsed } from '../args.ts';
import { numberFlag, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import type { WorkerPool } from '../pool.ts';
import type { Store } from '../store/index.ts';

export const QUEUE_FLAGS = {
  queue: { type: 'string' },
  attempts: { type: 'string' },
  'slide-base-url': { type: 'string' },
  'path-map': { type: 'string', multiple: true },
  'queue-size': { type: 'string' },
} as const;

export const QUEUE_USAGE = `
  --queue redis://HOST:PORT  run the tasks on \`wsi worker\` processes (any machine) instead of the local
                     pool; this process still plans the run and alone writes the store
  --attempts N       tries per task on the queue before its slide counts as failed (default 3)
  --slide-base-url URL  workers read each slide as URL/<file name> (any static server with range requests)
  --path-map FROM=TO    workers read slide paths starting with FROM under TO (path or URL; repeatable)
  --queue-size N     tasks kept in flight on the queue (default 32; about the cluster's total concurrency)`;

export interface QueueFlags {
  url: string;
  attempts?: number;
  slideBaseUrl?: string;
  pathMaps?: string[];
  size?: number;
}

export function queueFlagsOf(p: Parsed): QueueFlags | undefined {
  const url = stringFlag(p, 'queue');
  const maps = p.values['path-map'];
  const flags = {
    attempts: numberFlag(p, 'attempts', { integer: true, min: 1, max: 100 }),
    slideBaseUrl: stringFlag(p, 'slide-base-url'),
    pathMaps: Array.isArray(maps) ? maps : undefined,
    size: numberFlag(p, 'queue-size', { integer: true, min: 1, max: 100_000 }),
  };
  if (!url) {
    if (flags.attempts !== undefined || flags.slideBaseUrl || flags.pathMaps || flags.size !== undefined) {
      throw new ConfigError('--attempts, --slide-base-url, --path-map and --queue-size need --queue');
    }
    return undefined;
  }
  return { url, ...flags };
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
