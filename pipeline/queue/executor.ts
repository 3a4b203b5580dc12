/**
 * The queue executor: the local pool's task interface (`run(kind, payload)` → result) over BullMQ, so a
 * stage command runs its tasks on `wsi worker` processes on any number of machines and stays the only
 * writer of its SQLite store.
 *
 * - Each task is a job whose id is derived from the run and the task (run tag + kind + hash of the
 *   canonical payload, or the caller's `jobId`), so submitting the same work twice adds nothing.
 * - Before adding, the executor looks the id up: a job already completed (by a previous submitter that
 *   was killed) gives its stored result at once; one still waiting or running is awaited; one that failed
 *   every attempt in an earlier submission is retried (the user reran to retry failures).
 * - Results arrive through BullMQ's event stream, with a periodic sweep of outstanding ids behind it (a
 *   Redis restart or a lagging event reader loses nothing; a job lost with Redis data is added again).
 * - A job that fails all its attempts rejects `run` with QueueTaskError (a WsiError carrying the worker's
 *   one-line message), which callers treat like any task failure.
 */
import { createHash } from 'node:crypto';
import { Queue, QueueEvents } from 'bullmq';
import { ConfigError, WsiError } from '../errors.ts';
import { canonicalJson } from '../store/runs.ts';
import { decode, encode } from './codec.ts';
import {
  connectionOf,
  jobKey,
  parseQueueUrl,
  QUEUE_NAME,
  QUEUE_PREFIX,
  RUN_KEY,
  RUNS_SET,
  stateKey,
} from './names.ts';
import { redisClient, whenReady } from './redis.ts';
import { createResourcePublisher, type PathMapping } from './resources.ts';

/** A task that failed every attempt on the queue's workers. */
export class QueueTaskError extends WsiError {
  constructor(message: string) {
    super('QUEUE_TASK', message);
  }
}

export interface RunTaskOptions {
  /** Stable id of this task (the stage runner's `run/slide/chunk`), shown in the job id before the payload's hash. */
  jobId?: string;
  /** Ignored on the queue (buffers travel encoded); accepted so the pool's callers need no change. */
  transfer?: ArrayBuffer[];
}

/** What stage code calls: the local pool and this executor both fit it. */
export interface TaskExecutor {
  /** Tasks a caller should keep in flight to keep every worker busy. */
  readonly size: number;
  readonly pending: number;
  run<R>(kind: string, payload: unknown, opts?: ArrayBuffer[] | RunTaskOptions): Promise<R>;
  close(): Promise<void>;
}

export interface QueueExecutorOptions {
  /** redis://HOST:PORT[/DB] */
  url: string;
  /** Identity of the run (store + run id + start time): job ids are scoped by it. */
  runKey: string;
  /** Shown by `wsi queue status`. */
  label?: string;
  /** Attempts per job before it counts as failed (default 3), with exponential backoff from backoffMs. */
  attempts?: number;
  backoffMs?: number;
  /** Tasks callers keep in flight (default 32): the cluster's total concurrency or more. */
  size?: number;
  /** Jobs submitted and not yet collected before `run` waits (default 4 × size). */
  maxInFlight?: number;
  pathMaps?: readonly PathMapping[];
  /** Sweep of outstanding jobs, ms (default 2000). */
  pollMs?: number;
  /** Finished jobs stay in Redis this long for a resubmitting run to collect (default 7 days). */
  keepSeconds?: number;
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutMs?: number;
}

export interface ExecutorStats {
  added: number;
  /** Jobs found already in Redis (completed, waiting or running) when submitted. */
  reused: number;
  /** Results collected without running anything (completed before this submission). */
  collected: number;
  /** Jobs that had failed in an earlier submission and were added again. */
  retried: number;
}

interface Entry {
  id: string;
  kind: string;
  data?: { run: string; kind: string; payload: unknown };
  promise: Promise<unknown>;
  resolve(v: unknown): void;
  reject(e: Error): void;
  submitted: boolean;
}

const ID_SAFE = /[^A-Za-z0-9_.\-/]/g;

export function runTagOf(runKey: string): string {
  return createHash('sha256').update(runKey).digest('hex').slice(0, 12);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      t = setTimeout(() => reject(new ConfigError(message)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

export async function createQueueExecutor(
  o: QueueExecutorOptions,
): Promise<TaskExecutor & { stats: ExecutorStats }> {
  const address = parseQueueUrl(o.url);
  const connection = connectionOf(address);
  const tag = runTagOf(o.runKey);
  const attempts = o.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1)
    throw new ConfigError(`--attempts must be a positive integer, got ${attempts}`);
  const size = o.size ?? 32;
  const maxInFlight = o.maxInFlight ?? size * 4;
  const keep = o.keepSeconds ?? 7 * 24 * 3600;
  const queue = new Queue(QUEUE_NAME, {
    connection,
    prefix: QUEUE_PREFIX,
    defaultJobOptions: {
      attempts,
      backoff: { type: 'exponential', delay: o.backoffMs ?? 1000 },
      removeOnComplete: { age: keep },
      removeOnFail: { age: keep },
    },
  });
  const events = new QueueEvents(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
  const redis = redisClient(address);
  queue.on('error', () => {});
  events.on('error', () => {});
  const unreachable = `cannot reach Redis at ${o.url} (is redis-server running?)`;
  await withTimeout(
    Promise.all([queue.waitUntilReady(), events.waitUntilReady(), whenReady(redis, o.url, 3_600_000)]),
    o.connectTimeoutMs ?? 10_000,
    unreachable,
  ).catch((err) => {
    // Never connected: end every connection now (closing through BullMQ would wait for them).
    redis.disconnect();
    void Promise.allSettled([queue.close(), events.close()]);
    throw err instanceof WsiError ? err : new ConfigError(unreachable);
  });
  const publish = createResourcePublisher(redis, o.pathMaps ?? []);
  await redis.sadd(RUNS_SET, tag);
  await redis.hset(RUN_KEY(tag), {
    label: o.label ?? o.runKey,
    key: o.runKey,
    submittedAt: new Date().toISOString(),
  });

  const stats: ExecutorStats = { added: 0, reused: 0, collected: 0, retried: 0 };
  const entries = new Map<string, Entry>();
  let batch: Entry[] = [];
  let flushScheduled = false;
  let slotWaiters: Array<() => void> = [];
  let closed = false;
  const early = new Map<string, unknown>();

  const settle = (id: string, outcome: { value?: unknown; error?: Error }): void => {
    const e = entries.get(id);
    if (!e) return;
    entries.delete(id);
    if (outcome.error) e.reject(outcome.error);
    else e.resolve(outcome.value);
    const waiters = slotWaiters;
    slotWaiters = [];
    for (const w of waiters) w();
  };
  const failure = (e: Entry | undefined, reason: string | null, made: string | null): QueueTaskError =>
    new QueueTaskError(
      `${e?.kind ?? 'task'} failed after ${made ?? attempts} attempt(s) on the queue: ${reason ?? 'unknown error'}`,
    );

  /** Looks ids up in Redis: completed → result, failed → error (or retry), missing → add. */
  const check = async (ids: string[], submitting: boolean): Promise<void> => {
    if (ids.length === 0) return;
    const p = redis.pipeline();
    for (const id of ids) {
      p.zscore(stateKey('completed'), id);
      p.zscore(stateKey('failed'), id);
      p.exists(jobKey(id));
    }
    const r = (await p.exec()) ?? [];
    const done: string[] = [];
    const failed: string[] = [];
    const missing: Entry[] = [];
    ids.forEach((id, i) => {
      const [completed, fail, exists] = [r[3 * i]?.[1], r[3 * i + 1]?.[1], r[3 * i + 2]?.[1]];
      if (completed !== null && completed !== undefined) done.push(id);
      else if (fail !== null && fail !== undefined) failed.push(id);
      else if (!exists) {
        const e = entries.get(id);
        if (e) missing.push(e);
      } else if (submitting) stats.reused++;
    });
    if (done.length) {
      const q = redis.pipeline();
      for (const id of done) q.hmget(jobKey(id), 'returnvalue');
      const values = (await q.exec()) ?? [];
      done.forEach((id, i) => {
        const raw = (values[i]?.[1] as (string | null)[] | null)?.[0];
        if (submitting) {
          stats.reused++;
          stats.collected++;
        }
        if (raw === null || raw === undefined) {
          const e = entries.get(id);
          if (e) missing.push(e); // removed between the two reads: run it again
          return;
        }
        settle(id, { value: decode((JSON.parse(raw) as { r?: unknown } | null)?.r) });
      });
    }
    for (const id of failed) {
      const e = entries.get(id);
      if (submitting && e) {
        // Failed in an earlier submission: the user reran to retry it.
        await queue.remove(id).catch(() => 0);
        stats.retried++;
        missing.push(e);
      } else {
        const [reason, made] = await redis.hmget(jobKey(id), 'failedReason', 'attemptsMade');
        settle(id, { error: failure(e, reason, made) });
      }
    }
    if (missing.length) {
      await queue.addBulk(missing.map((e) => ({ name: e.kind, data: e.data, opts: { jobId: e.id } })));
      stats.added += missing.length;
      await redis.hincrby(RUN_KEY(tag), 'added', missing.length);
    }
  };

  const flush = async (): Promise<void> => {
    flushScheduled = false;
    const todo = batch;
    batch = [];
    try {
      await check(
        todo.map((e) => e.id),
        true,
      );
      for (const e of todo) {
        e.submitted = true;
        // Completed while its add was in flight: the event came before the entry was marked submitted.
        if (early.has(e.id)) settle(e.id, { value: early.get(e.id) });
        early.delete(e.id);
      }
    } catch (err) {
      for (const e of todo) settle(e.id, { error: err instanceof Error ? err : new Error(String(err)) });
    }
  };

  // Workers return { r: encoded result } (an object, so QueueEvents' JSON parsing never meets a bare string).
  events.on('completed', ({ jobId, returnvalue }) => {
    const e = entries.get(jobId);
    if (!e) return;
    // QueueEvents has parsed the JSON already (a string result would stay a string).
    const value = decode((returnvalue as { r?: unknown } | null)?.r);
    if (e.submitted) settle(jobId, { value });
    else early.set(jobId, value);
  });
  events.on('failed', ({ jobId }) => {
    if (entries.get(jobId)?.submitted) void check([jobId], false).catch(() => {});
  });
  const sweep = setInterval(() => {
    const ids = [...entries.values()].filter((e) => e.submitted).map((e) => e.id);
    void (async () => {
      for (let i = 0; i < ids.length; i += 500) await check(ids.slice(i, i + 500), false);
    })().catch(() => {});
  }, o.pollMs ?? 2000);

  return {
    size,
    stats,
    get pending() {
      return entries.size;
    },
    async run<R>(kind: string, payload: unknown, opts?: ArrayBuffer[] | RunTaskOptions): Promise<R> {
      if (closed) throw new ConfigError('queue executor is closed');
      if (!/^[a-z][a-z0-9-]*$/.test(kind)) throw new ConfigError(`invalid worker task kind '${kind}'`);
      const given = Array.isArray(opts) ? undefined : opts?.jobId;
      const published = await publish(payload);
      const encoded = encode(published);
      // The payload's hash is always part of the id: a result is a pure function of kind + payload, so a
      // job found in Redis under this id is the right answer even if a rerun planned chunk i differently.
      const digest = createHash('sha256').update(canonicalJson(encoded)).digest('hex');
      const id = given
        ? `${tag}-${kind}-${given.replace(ID_SAFE, '_')}-${digest.slice(0, 16)}`
        : `${tag}-${kind}-${digest.slice(0, 32)}`;
      const existing = entries.get(id);
      if (existing) return existing.promise as Promise<R>;
      while (entries.size >= maxInFlight) await new Promise<void>((r) => slotWaiters.push(r));
      const again = entries.get(id);
      if (again) return again.promise as Promise<R>;
      let resolve!: (v: unknown) => void;
      let reject!: (e: Error) => void;
      const promise = new Promise<unknown>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      const e: Entry = {
        id,
        kind,
        data: { run: tag, kind, payload: encoded },
        promise,
        resolve,
        reject,
        submitted: false,
      };
      entries.set(id, e);
      batch.push(e);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(() => void flush());
      }
      return promise as Promise<R>;
    },
    async close() {
      closed = true;
      clearInterval(sweep);
      for (const id of [...entries.keys()]) settle(id, { error: new ConfigError('queue executor closed') });
      redis.disconnect();
      await Promise.allSettled([events.close(), queue.close()]);
    },
  };
}
