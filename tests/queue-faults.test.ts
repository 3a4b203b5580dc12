/**
 * Nothing lost, nothing done twice: `wsi infer --queue` with three `wsi worker` processes survives a worker
 * SIGKILLed while it holds a job, a Redis restart (append-only file on) mid-run, and a submitter SIGKILLed
 * mid-run and started again: every time the rows equal the local pool's, none twice, and the resubmitted
 * run adds no job a second time.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../pipeline/models/backend.ts';
import { type ModelMeta, saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { queueStatus, type RunStatus } from '../pipeline/queue/status.ts';
import { type QueueFlags, queueStageExecutor } from '../pipeline/queue/task-executor.ts';
import { inferSlides } from '../pipeline/stages/infer.ts';
import { openStore } from '../pipeline/store/index.ts';
import { CMU_SLIDE, tempDir } from './helpers/paths.ts';
import {
  BIN,
  duplicatePatchRows,
  patchRows,
  query,
  startWorker,
  stopWorkers,
  type TestWorker,
  waitForWorkers,
} from './helpers/queue.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

const tmp = tempDir('queue-faults');
const modelDir = path.join(tmp.path, 'model');
let redis: TestRedis;
let workers: TestWorker[] = [];
let reference: unknown[];
let spawned = 0;

const addWorker = () => {
  const w = startWorker(redis.url, `faults-${spawned++}`);
  workers.push(w);
  return w;
};

async function infer(db: string, queue?: QueueFlags) {
  const store = openStore(db);
  const executor = queue ? await queueStageExecutor(queue, store, 'infer') : undefined;
  try {
    return await inferSlides({
      store,
      modelDir,
      slides: [CMU_SLIDE],
      workers: 1,
      tileInput: 256,
      quiet: true,
      executor,
    });
  } finally {
    await executor?.close();
    store.close();
  }
}

async function until(ok: () => Promise<boolean> | boolean, what: string, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function runStatus(label: RegExp): Promise<RunStatus | undefined> {
  return (await queueStatus(redis.url)).runs.find((r) => label.test(r.label));
}

beforeAll(async () => {
  redis = await startRedis();
  for (let i = 0; i < 3; i++) addWorker();
  await useBackend('wasm');
  const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1.0, seed: 11 });
  const trained: ModelMeta = {
    ...meta,
    training: {
      finishedAt: new Date().toISOString(),
      samples: 1,
      dataset: 'test fixture (not a real training)',
    },
  };
  await saveModel(modelDir, model, trained);
  model.dispose();
  const refDb = path.join(tmp.path, 'reference.sqlite');
  await infer(refDb);
  reference = patchRows(refDb);
  expect(reference.length).toBeGreaterThan(1000);
  await waitForWorkers(redis.url, 3);
});

afterAll(async () => {
  await stopWorkers(workers);
  await redis?.stop();
  tmp.cleanup();
});

describe('queue faults', () => {
  it('a worker SIGKILLed while it holds a job: its job runs again elsewhere; same rows, none twice', async () => {
    const db = path.join(tmp.path, 'killed-worker.sqlite');
    const run = infer(db, { url: redis.url });
    let victim: string | undefined;
    await until(async () => {
      const busy = (await queueStatus(redis.url)).workers.find((w) => w.active.length > 0);
      victim = busy?.name;
      return victim !== undefined;
    }, 'a worker holding a job');
    const w = workers.find((x) => x.name === victim);
    w?.child.kill('SIGKILL');
    await w?.exited;
    workers = workers.filter((x) => x !== w);
    const summary = await run;
    expect(summary.slides[0].status).toBe('done');
    expect(patchRows(db)).toEqual(reference);
    expect(duplicatePatchRows(db)).toBe(0);
    const s = await runStatus(/^infer in killed-worker\.sqlite$/);
    // The killed worker's job was started again by another worker (after its lock expired).
    expect(s?.counters.started).toBeGreaterThan(s?.completed ?? 0);
    expect(s?.failed).toBe(0);
    addWorker();
    await waitForWorkers(redis.url, 3);
  });

  it('redis-server restarted mid-run (AOF on): the run completes with the same rows', async () => {
    const db = path.join(tmp.path, 'redis-restart.sqlite');
    const run = infer(db, { url: redis.url });
    await until(
      async () => ((await runStatus(/in redis-restart\.sqlite$/))?.completed ?? 0) > 2,
      'a run under way',
    );
    await redis.restart();
    const summary = await run;
    expect(summary.slides[0].status).toBe('done');
    expect(patchRows(db)).toEqual(reference);
    expect(duplicatePatchRows(db)).toBe(0);
  });

  it(
    'the submitter SIGKILLed mid-run and run again: same rows, none twice, no job added twice',
    { timeout: 400_000 },
    async () => {
      const db = path.join(tmp.path, 'killed-submitter.sqlite');
      const args = [
        BIN,
        'infer',
        CMU_SLIDE,
        '--model',
        modelDir,
        '--db',
        db,
        '--tile',
        '256',
        '--quiet',
        '--queue',
        redis.url,
      ];
      const first = spawn(process.execPath, args, { stdio: 'ignore' });
      const firstExit = new Promise((r) => first.on('exit', r));
      const rowsSoFar = () => {
        try {
          return query<{ n: number }>(db, 'SELECT count(*) AS n FROM patches')[0].n;
        } catch {
          return 0;
        }
      };
      await until(() => rowsSoFar() > 0 || first.exitCode !== null, 'the first rows');
      first.kill('SIGKILL');
      await firstExit;
      const partial = rowsSoFar();
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(reference.length);

      const second = spawn(process.execPath, args, { stdio: 'ignore' });
      expect(await new Promise((r) => second.on('exit', r))).toBe(0);
      expect(patchRows(db)).toEqual(reference);
      expect(duplicatePatchRows(db)).toBe(0);
      const s = await runStatus(/^infer in killed-submitter\.sqlite$/);
      expect(s?.completed).toBeGreaterThan(0);
      // Every job was added once over both submissions, and ran once.
      expect(s?.counters.added).toBe(s?.completed);
      expect(s?.counters.started).toBe(s?.completed);
    },
  );
});
