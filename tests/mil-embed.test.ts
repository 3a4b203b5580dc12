import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ModelError } from '../pipeline/errors.ts';
import { loadBags, resolveEmbedRun } from '../pipeline/mil/bags-from-store.ts';
import { createPatchEncoder } from '../pipeline/mil/encoder.ts';
import { planPatchRead } from '../pipeline/mil/patch-read.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { createPool, type WorkerPool } from '../pipeline/pool.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { embedSlides, thinToSpacing } from '../pipeline/stages/embed.ts';
import { openStore, type Store } from '../pipeline/store/db.ts';
import { beginRun, finishRun, getRun, markSlideDone } from '../pipeline/store/runs.ts';
import { upsertSlide } from '../pipeline/store/slides.ts';
import { CMU_SLIDE, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const tmp = tempDir('mil-embed');
let store: Store;
let pool: WorkerPool;
const modelDir = join(tmp.path, 'classifier');
const untrainedDir = join(tmp.path, 'untrained');
/** 3 × 4 grid of 256-px level-0 patches (128 µm at 0.499 µm/px) on CMU-1-Small-Region. */
const boxes = Array.from({ length: 12 }, (_, k) => ({
  x: 300 + (k % 3) * 512,
  y: 400 + Math.floor(k / 3) * 512,
  width: 256,
  height: 256,
  level: 0,
  mpp: 0.499,
  tissue: 0.9,
  label: null,
}));

beforeAll(async () => {
  await initBackend({ log: () => {} });
  store = openStore(join(tmp.path, 'store.sqlite'));
  const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1, seed: 4 });
  await saveModel(untrainedDir, model, meta);
  // Weights are random, but the stage only needs the encoder's shape: record it as trained.
  await saveModel(modelDir, model, {
    ...meta,
    training: { finishedAt: new Date().toISOString(), samples: 0 },
  });
  model.dispose();
  const slide = await openSlide(CMU_SLIDE);
  const slideId = upsertSlide(store, slide);
  await slide.close();
  const { runId } = beginRun(store, 'patches', { test: 'grid' });
  const insert = store.db.prepare(
    `INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  for (const b of boxes) insert.run(runId, slideId, b.x, b.y, b.width, b.height, b.level, b.mpp, b.tissue);
  markSlideDone(store, runId, slideId, boxes.length);
  finishRun(store, runId);
  pool = createPool({ workers: 1 });
});
afterAll(async () => {
  await pool?.close();
  store?.close();
  tmp.cleanup();
});

describe('wsi embed stage', () => {
  it('embeds every patch of a slide in the pool, stores float16 blobs, and resumes without redoing work', async () => {
    const first = await embedSlides(store, [CMU_SLIDE], { modelDir, pool, dtype: 'float16', batch: 5 });
    expect(first.resumed).toBe(false);
    expect(first.slides).toBe(1);
    expect(first.patches).toBe(12);
    expect(first.dim).toBe(64);
    expect(getRun(store, first.runId)?.status).toBe('done');
    const [bag] = loadBags(store, resolveEmbedRun(store, first.runId));
    expect(bag.size).toBe(12);
    expect(bag.dim).toBe(64);
    // Same vectors as the encoder run in this thread on the same pixels (float16 rounding aside).
    const { loadModel } = await import('../pipeline/models/model-io.ts');
    const { model, meta } = await loadModel(modelDir);
    const encoder = createPatchEncoder(model, meta);
    const slide = await openSlide(CMU_SLIDE);
    const plan = planPatchRead(
      bag.patches[4],
      { mpp: 0.499, levels: slide.levels },
      { mpp: 1, patchSize: 68 },
    );
    expect(plan.mode).toBe('mpp');
    expect(plan.size).toBe(128);
    const image = await slide.readAt({ x: plan.x, y: plan.y, width: plan.size, height: plan.size, mpp: 1 });
    await slide.close();
    const expected = await encoder.embed([image]);
    for (let d = 0; d < 64; d++) {
      expect(bag.embeddings[4 * 64 + d]).toBeCloseTo(expected[d], 2);
    }
    const norms = Array.from({ length: 12 }, (_, i) => bag.embeddings.subarray(i * 64, (i + 1) * 64));
    expect(norms.some((v, i) => i > 0 && v.some((x, d) => Math.abs(x - norms[0][d]) > 1e-3))).toBe(true);

    const again = await embedSlides(store, [CMU_SLIDE], { modelDir, pool, dtype: 'float16', batch: 5 });
    expect(again.runId).toBe(first.runId);
    expect(again.resumed).toBe(true);
    expect(again.skipped).toBe(1);
    expect(again.patches).toBe(0);
  });

  it('embeds at a named layer (here the first pooling layer: 16 channels)', async () => {
    const { loadModel } = await import('../pipeline/models/model-io.ts');
    const { model } = await loadModel(modelDir);
    const layer = model.layers.find((l) => l.getClassName() === 'MaxPooling2D')?.name as string;
    model.dispose();
    const r = await embedSlides(store, [CMU_SLIDE], { modelDir, pool, layer, batch: 12 });
    expect(r.resumed).toBe(false);
    expect(r.patches).toBe(12);
    expect(r.dim).toBe(16);
  });

  it('refuses an untrained model, a missing layer, and slides without patches', async () => {
    await expect(embedSlides(store, [CMU_SLIDE], { modelDir: untrainedDir, pool })).rejects.toThrow(
      ModelError,
    );
    // Per-slide problems fail that slide, recorded with a one-line message; the run ends 'failed'.
    const noLayer = await embedSlides(store, [CMU_SLIDE], { modelDir, pool, layer: 'nope' });
    expect(noLayer.failed).toBe(1);
    expect(noLayer.report.failed[0].error).toMatch(/no layer 'nope'/);
    expect(getRun(store, noLayer.runId)?.status).toBe('failed');
    const noPatches = await embedSlides(store, [TCGA_SLIDE], { modelDir, pool });
    expect(noPatches.report.failed[0]).toMatchObject({ step: 'plan', name: 'tcga-cr-7395-01a-01-ts1.svs' });
    expect(noPatches.report.failed[0].error).toMatch(/^ConfigError: .*run `wsi patches` on it first/);
    await expect(embedSlides(store, [], { modelDir, pool })).rejects.toThrow(ConfigError);
  });

  it('thins a dense FCN lattice to one patch per spacing cell, nearest the cell centre', () => {
    // 32-px stride lattice of 272-px footprints (an FCN grid), thinned to 256-px cells.
    const rows = [];
    for (let y = 0; y < 1024; y += 32) {
      for (let x = 0; x < 1024; x += 32) {
        rows.push({ x, y, width: 272, height: 272, level: 0, mpp: 0.25, tissue: 1, label: null });
      }
    }
    const thin = thinToSpacing(rows, 256);
    const cells = new Set(
      thin.map((r) => `${Math.floor((r.x + 136) / 256)},${Math.floor((r.y + 136) / 256)}`),
    );
    expect(cells.size).toBe(thin.length);
    expect(thin.length).toBe(25); // centres span 136..1128 px: 5 × 5 cells
    // Centre of cell (1,1) is (384, 384): the footprint centred there starts at 248 → nearest lattice x 256 (centre 392).
    expect(thin.some((r) => r.x === 256 && r.y === 256)).toBe(true);
    expect(thinToSpacing(rows, 256)).toEqual(thin);
  });
});
