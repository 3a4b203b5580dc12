/**
 * Memory budgets are per process: a pool of N workers splits each one N ways (a decoded-tile cache of
 * 256 MiB becomes 128 MiB per worker with two), so running work in the pool does not multiply the
 * memory a user configured. The pool tells its workers their number through workerData.
 */
import { isMainThread, workerData } from 'node:worker_threads';

export const POOL_WORKERS_KEY = 'wsiPoolWorkers';

/** Workers sharing this process's budgets: the pool's size inside a pool worker, else 1. */
function poolWorkerCount(): number {
  if (isMainThread) return 1;
  const n = (workerData as Record<string, unknown> | undefined)?.[POOL_WORKERS_KEY];
  return typeof n === 'number' && Number.isInteger(n) && n >= 1 ? n : 1;
}

/** This thread's share of a process-wide budget in bytes. */
export function shareOfBudget(bytes: number): number {
  return Math.floor(bytes / poolWorkerCount());
}
