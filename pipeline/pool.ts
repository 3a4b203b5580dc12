/**
 * The one Piscina pool. Tasks are `{ kind, payload }`: `kind` names a file in workers/ whose exported
 * `run(payload)` does the work. Results come back through Piscina.move (transferred, not copied).
 * The queue is bounded (maxQueue) so producers that await `run` get back-pressure.
 * `poolExecutor(pool)` is the same pool behind the typed TaskExecutor interface that stages use.
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ConfigError } from './errors.ts';
import { POOL_WORKERS_KEY } from './pool-share.ts';
import type { TaskExecutor, TaskKind, TaskPayload, TaskResult } from './tasks.ts';

export interface PoolOptions {
  /** Worker threads (default: available cores). */
  workers?: number;
  /** Tasks allowed to wait beyond the running ones (default: 4 × workers). */
  maxQueue?: number;
}

export interface WorkerPool {
  readonly size: number;
  run<R>(kind: string, payload: unknown, transferList?: ArrayBuffer[]): Promise<R>;
  /** Tasks queued or running. */
  readonly pending: number;
  close(): Promise<void>;
}

const ENTRY = fileURLToPath(new URL('../workers/entry.mjs', import.meta.url));
const KIND = /^[a-z][a-z0-9-]*$/;

export function defaultWorkerCount(): number {
  return Math.max(1, availableParallelism());
}

export function createPool(options: PoolOptions = {}): WorkerPool {
  const workers = options.workers ?? defaultWorkerCount();
  if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
    throw new ConfigError(`--workers must be an integer from 1 to 256, got ${workers}`);
  }
  const maxQueue = options.maxQueue ?? workers * 4;
  const piscina = new Piscina({
    filename: ENTRY,
    minThreads: workers,
    maxThreads: workers,
    maxQueue,
    idleTimeout: 60_000,
    workerData: { [POOL_WORKERS_KEY]: workers },
  });
  let inFlight = 0;
  // One 'drain' listener shared by every waiting producer (one per caller would trip MaxListeners).
  let drained: Promise<void> | undefined;
  const waitForDrain = (): Promise<void> => {
    drained ??= new Promise<void>((resolve) =>
      piscina.once('drain', () => {
        drained = undefined;
        resolve();
      }),
    );
    return drained;
  };
  return {
    size: workers,
    get pending() {
      return inFlight;
    },
    async run<R>(kind: string, payload: unknown, transferList?: ArrayBuffer[]): Promise<R> {
      if (!KIND.test(kind)) throw new ConfigError(`invalid worker task kind '${kind}'`);
      // Back-pressure: wait while the queue is full instead of failing with Piscina's queue-full error.
      while (piscina.queueSize >= maxQueue) await waitForDrain();
      inFlight++;
      try {
        return (await piscina.run({ kind, payload }, { transferList })) as R;
      } catch (err) {
        throw withNameFromWorker(err);
      } finally {
        inFlight--;
      }
    },
    async close() {
      await piscina.destroy();
    },
  };
}

/**
 * A worker's named error (SlideFormatError, ...) crosses the thread as a plain Error whose stack still
 * starts with its name: give it that name back, so failures are recorded as `SlideFormatError: ...`.
 */
function withNameFromWorker(err: unknown): unknown {
  if (err instanceof Error && err.name === 'Error') {
    const name = /^([A-Z]\w*Error): /.exec(err.stack ?? '')?.[1];
    if (name) err.name = name;
  }
  return err;
}

/** The pool as a TaskExecutor, typed against the task map (tasks.ts). The pool's owner closes the pool. */
export function poolExecutor(pool: WorkerPool): TaskExecutor {
  return {
    size: pool.size,
    run<K extends TaskKind>(kind: K, payload: TaskPayload<K>, opts?: { transfer?: ArrayBuffer[] }) {
      return pool.run<TaskResult<K>>(kind, payload, opts?.transfer);
    },
    close: async () => {},
  };
}

/** `poolExecutor` that also closes the pool when it is closed (for a command that made the pool for it). */
export function ownedPoolExecutor(pool: WorkerPool): TaskExecutor {
  return { ...poolExecutor(pool), close: () => pool.close() };
}
