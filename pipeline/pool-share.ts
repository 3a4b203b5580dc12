/**
 * Memory budgets are per process: a pool of N workers splits each one N ways (a decoded-tile cache of
 * 256 MiB becomes 128 MiB per worker with two), so running work in the pool does not multiply the
 * memory a user configured. The pool tells its workers their number through workerData.
 */
import { createRequire } from 'node:module';

export const POOL_WORKERS_KEY = 'wsiPoolWorkers';

/** Workers sharing this process's budgets: the pool's size inside a pool worker, else 1. */
function poolWorkerCount(): number {
  // Required here, not imported: loading worker_threads costs a process ~2 ms, and a main thread that
  // only imports this module (every slide command, through the slide reader) never needs it.
  const { isMainThread, workerData } = createRequire(import.meta.url)(
    'node:worker_threads',
  ) as typeof import('node:worker_threads');
  if (isMainThread) return 1;
  const n = (workerData as Record<string, unknown> | undefined)?.[POOL_WORKERS_KEY];
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

/** This thread's share of a process-wide budget in bytes. */
export function shareOfBudget(bytes: number): number {
  return Math.floor(bytes / poolWorkerCount());
}
