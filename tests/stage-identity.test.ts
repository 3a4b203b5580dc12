/**
 * Run identity is content, not paths: retraining a model into the same folder gives a new run (fresh
 * results), and the same model moved to another folder resumes the old run. Checked for `wsi embed` and
 * `wsi infer`, the two stages that read a patch-classifier model.
 */
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadBags, resolveEmbedRun } from '../pipeline/mil/bags-from-store.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { createPool, type WorkerPool } from '../pipeline/pool.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { embedSlides } from '../pipeline/stages/embed.ts';
import { inferSlides } from '../pipeline/stages/infer.ts';
import { openStore, type Store } from '../pipeline/store/db.ts';
import { beginRun, finishRun, markSlideDone } from '../pipeline/store/runs.ts';
import { upsertSlide } from '../pipeline/store/slides.ts';
import { CMU_SLIDE, tempDir } from './helpers/paths.ts';

const tmp = tempDir('stage-identity');
const modelA = join(tmp.path, 'model-a');
const modelB = join(tmp.path, 'model-b');
const live = join(tmp.path, 'live'); // the folder `--out` trains into
let store: Store;
let pool: WorkerPool;

async function saveTrained(dir: string, seed: number): Promise<void> {
  const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1, seed });
  await saveModel(dir, model, { ...meta, training: { finishedAt: '2026-01-01T00:00:00Z', samples: 1 } });
  model.dispose();
}

function install(from: string): void {
  rmSync(live, { recursive: true, force: true });
  cpSync(from, live, { recursive: true });
}

beforeAll(async () => {
  await initBackend({ log: () => {} });
  await saveTrained(modelA, 3);
  await saveTrained(modelB, 4);
  store = openStore(join(tmp.path, 'store.sqlite'));
  const slide = await openSlide(CMU_SLIDE);
  const slideId = upsertSlide(store, slide);
  await slide.close();
  const { runId } = beginRun(store, 'patches', { test: 'identity' });
  const insert = store.db.prepare(
    'INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue) VALUES (?, ?, ?, ?, 256, 256, 0, 0.499, 1)',
  );
  for (let k = 0; k < 4; k++) insert.run(runId, slideId, 300 + k * 300, 600);
  markSlideDone(store, runId, slideId, 4);
  finishRun(store, runId);
  pool = createPool({ workers: 1 });
});
afterAll(async () => {
  await pool?.close();
  store?.close();
  tmp.cleanup();
});

function firstVector(runId: number): number[] {
  const [bag] = loadBags(store, resolveEmbedRun(store, runId));
  return Array.from(bag.embeddings.subarray(0, bag.dim));
}

describe('run identity follows model content, not model paths', () => {
  it('embed: a model retrained into the same folder gives a new run; a moved model resumes', async () => {
    install(modelA);
    const a = await embedSlides(store, [CMU_SLIDE], { modelDir: live, pool });
    expect(a.patches).toBe(4);
    install(modelB); // "retrain" into the same --out
    const b = await embedSlides(store, [CMU_SLIDE], { modelDir: live, pool });
    expect(b.runId).not.toBe(a.runId);
    expect(b.resumed).toBe(false);
    expect(b.patches).toBe(4);
    expect(firstVector(b.runId)).not.toEqual(firstVector(a.runId));
    const moved = await embedSlides(store, [CMU_SLIDE], { modelDir: modelA, pool });
    expect(moved.runId).toBe(a.runId);
    expect(moved.resumed).toBe(true);
    expect(moved.patches).toBe(0);
  });

  it('infer: the same model moved to another folder resumes its run', async () => {
    install(modelA);
    const opts = { store, slides: [CMU_SLIDE], workers: 0, tileInput: 256, quiet: true };
    const first = await inferSlides({ ...opts, modelDir: live });
    expect(first.slides[0].status).toBe('done');
    const moved = await inferSlides({ ...opts, modelDir: modelA });
    expect(moved.runId).toBe(first.runId);
    expect(moved.slides[0].status).toBe('skipped');
    install(modelB);
    const retrained = await inferSlides({ ...opts, modelDir: live });
    expect(retrained.runId).not.toBe(first.runId);
  });
});
