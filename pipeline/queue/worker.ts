/**
 * A queue worker: takes jobs from BullMQ and runs them with the same task files as the local pool
 * (workers/<kind>.ts). By default the tasks run in a pool of `concurrency` worker threads, so slides and
 * models stay open between jobs and CPU-heavy tasks never block the main thread, which renews the jobs'
 * locks (BullMQ's heartbeat) and this worker's liveness record. `inProcess` imports the task files into
 * this thread instead (no thread hop: for tiny jobs).
 *
 * A worker SIGKILLed mid-job stops renewing its lock; after `lockDurationMs` BullMQ's stalled-job check
 * (every `stalledIntervalMs`, on any live worker) puts the job back in the queue.
 */
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { type Job, Worker } from 'bullmq';
import { ConfigError } from '../errors.ts';
import { createPool, type WorkerPool } from '../pool.ts';
import { decode, encode } from './codec.ts';
import { connectionOf, parseQueueUrl, QUEUE_NAME, QUEUE_PREFIX, RUN_KEY, WORKER_KEY } from './names.ts';
import { redisClient, whenReady } from './redis.ts';
import { createResourceResolver } from './resources.ts';

export interface QueueWorkerOptions {
  url: string;
  concurrency?: number;
  name?: string;
  /** A job's lock lives this long without renewal (default 30 s): a dead worker's job waits this long. */
  lockDurationMs?: number;
  /** How often workers look for jobs whose lock expired (default 15 s). */
  stalledIntervalMs?: number;
  /** Run task files in this thread instead of worker threads. */
  inProcess?: boolean;
  /** Where fetched model files are kept (default $TMPDIR/wsi-queue-cache). */
  cacheDir?: string;
  log?: (line: string) => void;
}

export interface QueueWorkerHandle {
  name: string;
  /** Stops taking jobs and waits for running ones (force: abandon them; their locks expire). */
  close(force?: boolean): Promise<void>;
  readonly closed: Promise<void>;
}

const KIND = /^[a-z][a-z0-9-]*$/;

/** `Name: message` in one line. Errors from pool threads arrive as plain Errors: their stack keeps the name. */
function oneLine(err: unknown): string {
  if (!(err instanceof Error)) return String(err).split('\n')[0];
  const name = err.name === 'Error' ? (/^(\w+Error):/.exec(err.stack ?? '')?.[1] ?? err.name) : err.name;
  return `${name}: ${err.message.split('\n')[0]}`;
}

/** Task files imported into this thread, as workers/entry.mjs does in pool threads. */
function inProcessRunner(): (kind: string, payload: unknown) => Promise<unknown> {
  const modules = new Map<string, Promise<{ run(p: unknown): unknown }>>();
  return async (kind, payload) => {
    let mod = modules.get(kind);
    if (!mod) {
      mod = import(new URL(`../../workers/${kind}.ts`, import.meta.url).href);
      modules.set(kind, mod);
    }
    return (await mod).run(payload);
  };
}

export async function startQueueWorker(o: QueueWorkerOptions): Promise<QueueWorkerHandle> {
  const address = parseQueueUrl(o.url);
  const connection = connectionOf(address);
  const concurrency = o.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
    throw new ConfigError(`--concurrency must be an integer from 1 to 256, got ${concurrency}`);
  const name = o.name ?? `${hostname()}-${process.pid}`;
  const lockDuration = o.lockDurationMs ?? 30_000;
  const log = o.log ?? (() => {});
  const redis = redisClient(address);
  const resolve = createResourceResolver(redis, o.cacheDir ?? path.join(tmpdir(), 'wsi-queue-cache'));
  const pool: WorkerPool | undefined = o.inProcess
    ? undefined
    : createPool({ workers: concurrency, maxQueue: concurrency });
  const runLocal = o.inProcess ? inProcessRunner() : undefined;
  const active = new Map<string, { kind: string; run: string; since: number }>();
  const counts = { done: 0, failed: 0 };
  const started = new Date().toISOString();
  // Per-run counters for `wsi queue status`, sent with the heartbeat ('started' goes at once, so a job
  // whose worker dies mid-way still counts as started).
  const tallies = new Map<string, number>();
  const tally = (run: string, field: string) => {
    const k = `${run}\0${field}`;
    tallies.set(k, (tallies.get(k) ?? 0) + 1);
  };
  const flushTallies = async () => {
    if (tallies.size === 0) return;
    const p = redis.pipeline();
    for (const [k, n] of tallies) {
      const [run, field] = k.split('\0');
      p.hincrby(RUN_KEY(run), field, n);
    }
    tallies.clear();
    await p.exec().catch(() => null);
  };

  const processor = async (job: Job): Promise<unknown> => {
    const { kind, run, payload } = job.data as { kind: string; run: string; payload: unknown };
    const id = String(job.id);
    if (!KIND.test(kind)) throw new Error(`ConfigError: invalid task kind '${kind}'`);
    active.set(id, { kind, run, since: Date.now() });
    void redis.hincrby(RUN_KEY(run), 'started', 1).catch(() => {});
    try {
      const task = await resolve(kind, decode(payload));
      const result = pool ? await pool.run(kind, task) : await runLocal?.(kind, task);
      counts.done++;
      tally(run, 'completed');
      return { r: encode(result) };
    } catch (err) {
      counts.failed++;
      tally(run, 'attemptsFailed');
      log(`${id} (${kind}) attempt ${job.attemptsMade + 1} failed: ${oneLine(err)}`);
      throw new Error(oneLine(err));
    } finally {
      active.delete(id);
    }
  };

  const worker = new Worker(QUEUE_NAME, processor, {
    connection,
    prefix: QUEUE_PREFIX,
    concurrency,
    name,
    lockDuration,
    stalledInterval: o.stalledIntervalMs ?? 15_000,
    maxStalledCount: 2,
    autorun: false,
  });
  worker.on('error', (err) => log(`redis: ${oneLine(err)}`));

  const heartbeatMs = Math.max(250, Math.min(5000, Math.floor(lockDuration / 3)));
  const beat = () => {
    void flushTallies();
    return redis
      .set(
        WORKER_KEY(name),
        JSON.stringify({
          name,
          host: hostname(),
          pid: process.pid,
          concurrency,
          started,
          done: counts.done,
          failed: counts.failed,
          active: [...active].map(([id, a]) => ({ id, ...a })),
        }),
        'PX',
        heartbeatMs * 3,
      )
      .catch(() => null);
  };
  await whenReady(redis, o.url, 60_000);
  await beat();
  const heartbeat = setInterval(() => void beat(), heartbeatMs);
  const running = worker.run();
  log(`worker ${name}: ${concurrency} task(s) at once on ${o.url}`);

  let closing: Promise<void> | undefined;
  const close = (force = false): Promise<void> => {
    if (closing && !force) return closing;
    closing = (async () => {
      await worker.close(force);
      clearInterval(heartbeat);
      await flushTallies();
      await redis.del(WORKER_KEY(name)).catch(() => 0);
      redis.disconnect();
      await pool?.close();
    })();
    return closing;
  };
  return {
    name,
    close,
    closed: running.then(() => closing ?? close()),
  };
}
