/**
 * Stages through the queue: patches (export), infer and count (slide tiles and whole images) with three
 * `wsi worker` processes give exactly the rows (and files) of the same run on the local pool; workers that
 * read slides over HTTP from a static server give the same rows; a slide the workers cannot read fails its
 * attempts, is recorded as a failed slide, the rest finishes and the command exits 1.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCount } from '../pipeline/commands/count.ts';
import { command as embedCommand } from '../pipeline/commands/embed.ts';
import { command as patchesCommand } from '../pipeline/commands/patches.ts';
import { command as tissueCommand } from '../pipeline/commands/tissue.ts';
import { useBackend } from '../pipeline/models/backend.ts';
import { type ModelMeta, saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { queueStatus } from '../pipeline/queue/status.ts';
import { type QueueFlags, queueStageExecutor } from '../pipeline/queue/task-executor.ts';
import { inferSlides } from '../pipeline/stages/infer.ts';
import { openStore } from '../pipeline/store/index.ts';
import { CMU_SLIDE, dataDir, TCGA_SLIDE, tempDir } from './helpers/paths.ts';
import {
  BIN,
  duplicatePatchRows,
  patchRows,
  query,
  startStaticServer,
  startWorker,
  stopWorkers,
  type TestWorker,
  waitForWorkers,
} from './helpers/queue.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';

const tmp = tempDir('queue-stages');
const modelDir = path.join(tmp.path, 'model');
let redis: TestRedis;
let workers: TestWorker[] = [];
let queue: QueueFlags;

beforeAll(async () => {
  redis = await startRedis();
  queue = { url: redis.url };
  workers = ['a', 'b', 'c'].map((n) => startWorker(redis.url, `stages-${n}`));
  await useBackend('wasm');
  // Random weights (a fixture, not a trained model): the test compares two executions of the same model.
  const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1.0, seed: 7 });
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
  await waitForWorkers(redis.url, 3);
});

afterAll(async () => {
  await stopWorkers(workers);
  await redis?.stop();
  tmp.cleanup();
});

function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

const inferOptions = (db: string) => ({
  store: openStore(db),
  modelDir,
  slides: [CMU_SLIDE, TCGA_SLIDE],
  assumeMpp: 0.5,
  workers: 1,
  tileInput: 256,
  quiet: true,
});

async function infer(db: string, q?: QueueFlags) {
  const o = inferOptions(db);
  const executor = q ? await queueStageExecutor(q, o.store, 'infer') : undefined;
  try {
    return await inferSlides({ ...o, executor });
  } finally {
    await executor?.close();
    o.store.close();
  }
}

/** Slide scores and details, without the engine (it names where the tiles ran: workers or queue). */
const slideResults = (db: string) =>
  query<{ slide_id: string; score: number; details_json: string }>(
    db,
    'SELECT slide_id, score, details_json FROM slide_results ORDER BY slide_id',
  ).map((r) => ({ ...r, details_json: { ...JSON.parse(r.details_json), engine: undefined } }));

// Each test runs a command twice (pool and queue) with worker processes alongside: minutes on a loaded machine.
describe('stages on the queue match the local pool', { timeout: 400_000 }, () => {
  it('patches with exported images: same rows, same files', async () => {
    const run = (name: string, extra: string[]) =>
      patchesCommand.run([
        CMU_SLIDE,
        '--db',
        path.join(tmp.path, `${name}.sqlite`),
        '--mpp',
        '1',
        '--size',
        '128',
        '--export',
        path.join(tmp.path, `${name}-out`),
        '--workers',
        '1',
        '--batch',
        '4',
        '--quiet',
        ...extra,
      ]);
    expect(await run('patches-local', [])).toBe(0);
    expect(await run('patches-queue', ['--queue', redis.url])).toBe(0);
    const localPatches = patchRows(path.join(tmp.path, 'patches-local.sqlite')).length;
    expect(localPatches).toBeGreaterThan(10);
    expect(patchRows(path.join(tmp.path, 'patches-queue.sqlite'))).toEqual(
      patchRows(path.join(tmp.path, 'patches-local.sqlite')),
    );
    expect(hashes(path.join(tmp.path, 'patches-queue-out'))).toEqual(
      hashes(path.join(tmp.path, 'patches-local-out')),
    );
    // Three workers shared the jobs and every job ran once.
    const s = await queueStatus(redis.url);
    const r = s.runs.find((x) => x.label.startsWith('patches'));
    expect(r?.completed).toBe(Math.ceil(localPatches / 4));
    expect(r?.counters.started).toBe(r?.completed);
  });

  it('infer: same score rows and slide scores', async () => {
    const localDb = path.join(tmp.path, 'infer-local.sqlite');
    const queueDb = path.join(tmp.path, 'infer-queue.sqlite');
    const local = await infer(localDb);
    const queued = await infer(queueDb, queue);
    expect(queued.slides.map((s) => s.status)).toEqual(['done', 'done']);
    expect(local.slides.map((s) => s.points)).toEqual(queued.slides.map((s) => s.points));
    const rows = patchRows(queueDb);
    expect(rows.length).toBeGreaterThan(100);
    expect(rows).toEqual(patchRows(localDb));
    expect(duplicatePatchRows(queueDb)).toBe(0);
    expect(slideResults(queueDb)).toEqual(slideResults(localDb));
  });

  it('count: slide tiles and whole images give the same cells and counts', async () => {
    const slideCount = (name: string, q?: QueueFlags) =>
      runCount([
        CMU_SLIDE,
        '--region',
        '0,0,1536,1536',
        '--db',
        path.join(tmp.path, `${name}.sqlite`),
        '--tile',
        '512',
        '--preset',
        'brightfield',
        '--workers',
        '1',
        '--quiet',
        ...(q ? ['--queue', q.url] : []),
      ]);
    expect(await slideCount('count-slide-local')).toBe(0);
    expect(await slideCount('count-slide-queue', queue)).toBe(0);
    const cells = (db: string) =>
      query(path.join(tmp.path, db), 'SELECT slide_id, x, y, area FROM cells ORDER BY slide_id, y, x');
    expect(cells('count-slide-queue.sqlite').length).toBeGreaterThan(20);
    expect(cells('count-slide-queue.sqlite')).toEqual(cells('count-slide-local.sqlite'));

    const images = ['001', '002', '003', '004'].map((n) =>
      path.join(dataDir, 'counting/vgg-cells', `${n}cell.png`),
    );
    const imageCount = async (name: string, extra: string[]) => {
      const out = path.join(tmp.path, `${name}.csv`);
      const db = path.join(tmp.path, `${name}.sqlite`);
      expect(
        await runCount([...images, '--out', out, '--db', db, '--workers', '1', '--quiet', ...extra]),
      ).toBe(0);
      return { csv: readFileSync(out, 'utf8'), cells: cells(`${name}.sqlite`) };
    };
    const local = await imageCount('count-img-local', []);
    const queued = await imageCount('count-img-queue', ['--queue', redis.url]);
    expect(queued.csv).toBe(local.csv);
    expect(queued.cells.length).toBeGreaterThan(50);
    expect(queued.cells).toEqual(local.cells);
  });
});

describe('tissue and embed stages on the queue match the local pool', { timeout: 400_000 }, () => {
  it('tissue: same fractions and outlines', async () => {
    const run = (name: string, extra: string[]) =>
      tissueCommand.run(
        [CMU_SLIDE, TCGA_SLIDE, '--db', path.join(tmp.path, `${name}.sqlite`), '--workers', '1'].concat([
          '--quiet',
          ...extra,
        ]),
      );
    expect(await run('tissue-local', [])).toBe(0);
    expect(await run('tissue-queue', ['--queue', redis.url])).toBe(0);
    const rows = (name: string) =>
      query(
        path.join(tmp.path, `${name}.sqlite`),
        'SELECT slide_id, score, details_json FROM slide_results ORDER BY slide_id',
      );
    expect(rows('tissue-queue')).toHaveLength(2);
    expect(rows('tissue-queue')).toEqual(rows('tissue-local'));
  });

  it('embed: same embeddings', async () => {
    const run = async (name: string, extra: string[]) => {
      const db = path.join(tmp.path, `${name}.sqlite`);
      expect(
        await patchesCommand.run([
          CMU_SLIDE,
          '--db',
          db,
          '--mpp',
          '1',
          '--size',
          '64',
          '--stride',
          '256',
          '--quiet',
        ]),
      ).toBe(0);
      expect(
        await embedCommand.run([CMU_SLIDE, '--model', modelDir, '--db', db, '--workers', '1', ...extra]),
      ).toBe(0);
      return query<{ x: number; y: number; e: Buffer }>(
        db,
        'SELECT x, y, embedding AS e FROM patches WHERE embedding IS NOT NULL ORDER BY y, x',
      );
    };
    const local = await run('embed-local', []);
    const queued = await run('embed-queue', ['--queue', redis.url]);
    expect(local.length).toBeGreaterThan(5);
    expect(queued).toEqual(local);
  });
});

describe('slides reach workers over HTTP', { timeout: 400_000 }, () => {
  it('workers reading slides from a static server give the same rows', async () => {
    const server = await startStaticServer({
      [path.basename(CMU_SLIDE)]: CMU_SLIDE,
      [path.basename(TCGA_SLIDE)]: TCGA_SLIDE,
    });
    try {
      const db = path.join(tmp.path, 'infer-http.sqlite');
      const summary = await infer(db, { url: redis.url, slideBaseUrl: server.url });
      expect(summary.slides.map((s) => s.status)).toEqual(['done', 'done']);
      expect(patchRows(db)).toEqual(patchRows(path.join(tmp.path, 'infer-local.sqlite')));
    } finally {
      await server.close();
    }
  });

  it('a slide the workers cannot read fails its attempts; the run records it, finishes the rest, exits 1', async () => {
    // The copy the workers get is truncated (a broken upload); the submitter's own copy plans fine.
    const broken = path.join(tmp.path, 'broken-tcga.svs');
    writeFileSync(broken, readFileSync(TCGA_SLIDE).subarray(0, 400_000));
    const server = await startStaticServer({
      [path.basename(CMU_SLIDE)]: CMU_SLIDE,
      [path.basename(TCGA_SLIDE)]: broken,
    });
    try {
      const db = path.join(tmp.path, 'infer-broken.sqlite');
      const child = spawn(
        process.execPath,
        [BIN, 'infer', CMU_SLIDE, TCGA_SLIDE, '--model', modelDir, '--db', db, '--assume-mpp', '0.5'].concat([
          '--tile',
          '256',
          '--quiet',
          '--queue',
          redis.url,
          '--slide-base-url',
          server.url,
          '--attempts',
          '2',
        ]),
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout?.on('data', (d) => {
        out += String(d);
      });
      const code = await new Promise<number | null>((r) => child.on('exit', r));
      expect(code).toBe(1);
      expect(out).toMatch(/CMU-1-Small-Region\.svs: done/);
      expect(out).toMatch(
        /tcga-cr-7395-01a-01-ts1\.svs: failed: QueueTaskError: infer-tile failed after 2 attempt\(s\) on the queue: SlideFormatError: .*file is truncated/,
      );
      const slides = query<{ status: string; error: string | null }>(
        db,
        'SELECT status, error FROM run_slides ORDER BY status',
      );
      expect(slides.map((s) => s.status)).toEqual(['done', 'failed']);
      expect(slides[1].error).toMatch(/after 2 attempt/);
      // `wsi runs` lists it: one failure, at the task step, naming the input.
      const failures = query<{ source: string; step: string }>(db, 'SELECT source, step FROM run_failures');
      expect(failures.map((f) => [path.basename(f.source), f.step])).toEqual([
        [path.basename(TCGA_SLIDE), 'tasks'],
      ]);
      // The good slide's rows are those of the local run.
      const cmuRows = (d: string) =>
        query(
          d,
          `SELECT x, y, score FROM patches WHERE slide_id = (SELECT id FROM slides WHERE name = ?) ORDER BY y, x`,
          path.basename(CMU_SLIDE),
        );
      expect(cmuRows(db)).toEqual(cmuRows(path.join(tmp.path, 'infer-local.sqlite')));
    } finally {
      await server.close();
    }
  });
});
