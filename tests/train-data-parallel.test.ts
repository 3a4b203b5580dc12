import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend } from '../pipeline/models/backend.ts';
import { loadModel } from '../pipeline/models/model-io.ts';
import { DEFAULT_NORMALISATION } from '../pipeline/models/normalise.ts';
import { type ArchSpec, buildPatchClassifier } from '../pipeline/models/patch-classifier.ts';
import { augmentPatch, drawAugment, STRONG_AUGMENT } from '../pipeline/train/augment.ts';
import { createDataParallel, shardBounds } from '../pipeline/train/data-parallel.ts';
import { memoryPatchSet, type PatchSet } from '../pipeline/train/dataset.ts';
import { scorePatches } from '../pipeline/train/score.ts';
import { readFlat, shardGradients } from '../pipeline/train/shard-grads.ts';
import { DEFAULT_TRAIN, type TrainConfig, trainPatchClassifier } from '../pipeline/train/trainer.ts';
import { createRng } from '../pipeline/util/rng.ts';

// Tiny nets (receptive field 8) so each training takes seconds.
const TINY_BN: ArchSpec = {
  name: 'tiny',
  layers: [
    { type: 'conv', filters: 4, kernel: 3, batchNorm: true },
    { type: 'maxpool', size: 2 },
    { type: 'conv', filters: 8, kernel: 3 },
  ],
};
const TINY_PLAIN: ArchSpec = {
  name: 'tiny-plain',
  layers: [
    { type: 'conv', filters: 4, kernel: 3 },
    { type: 'maxpool', size: 2 },
    { type: 'conv', filters: 8, kernel: 3 },
  ],
};
const P = 8;

/** 200 noisy patches, 10 tumour (pale pink) and 190 normal (dark blue). */
function toySet(seed: number): PatchSet {
  const n = 200;
  const rng = createRng(seed);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i += 20) labels[i] = 1;
  const pixels = new Uint8Array(n * P * P * 3);
  for (let i = 0; i < n; i++) {
    const base = labels[i] ? [225, 150, 200] : [90, 80, 170];
    for (let k = 0; k < P * P; k++)
      for (let c = 0; c < 3; c++)
        pixels[(i * P * P + k) * 3 + c] = Math.max(0, Math.min(255, base[c] + rng.normal() * 40));
  }
  return memoryPatchSet(pixels, labels, P);
}

const config: TrainConfig = {
  ...DEFAULT_TRAIN,
  arch: TINY_BN,
  sampler: 'cased',
  steps: 20,
  batchSize: 16,
  learningRate: 0.01,
  valEvery: 10,
  curriculumSteps: 4,
  refreshEvery: 5,
  refreshSize: 16,
};

const tmp = mkdtempSync(join(tmpdir(), 'train-dp-'));
beforeAll(async () => {
  await useBackend('wasm');
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function weightsOf(dir: string): Promise<number[]> {
  const { model } = await loadModel(dir);
  const out = model.getWeights().flatMap((w) => Array.from(w.dataSync()));
  model.dispose();
  return out;
}

describe('data-parallel training', () => {
  it('uses fewer workers when shards would be under 8 samples', async () => {
    const r = await trainPatchClassifier({
      train: toySet(3),
      outDir: join(tmp, 'small'),
      resume: false,
      config: { ...config, steps: 1, batchSize: 12 },
      workers: 2,
    });
    expect(r.meta.training?.config?.trainWorkers).toBe(1);
  });

  it('splits a batch into contiguous near-equal shards', () => {
    expect(shardBounds(8, 2)).toEqual([0, 4, 8]);
    expect(shardBounds(7, 3)).toEqual([0, 3, 5, 7]);
  });

  it('the summed gradient of 2 workers equals the full-batch gradient (no batch norm)', async () => {
    const model = buildPatchClassifier(TINY_PLAIN, { seed: 5 });
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const rng = createRng(9);
    const B = 6;
    const x = Float32Array.from({ length: B * P * P * 3 }, () => rng.normal());
    const y = Float32Array.from({ length: B }, (_, i) => i % 2);
    const full = shardGradients(model, vars, x, y, P, B);
    const expected = readFlat(full.grads);
    const dp = createDataParallel({ model, arch: TINY_PLAIN, backend: 'wasm', patchSize: P, workers: 2 });
    try {
      const r = await dp.step(x, y);
      const got = readFlat(r.grads);
      expect(got.length).toBe(expected.length);
      const scale = Math.max(...expected.map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThan(1e-5 * scale);
      expect(r.loss).toBeCloseTo(full.loss, 5);
      for (let i = 0; i < B; i++) expect(r.perSample[i]).toBeCloseTo(full.perSample[i], 5);
      for (const g of [...r.grads, ...full.grads]) g.dispose();
    } finally {
      await dp.close();
      model.dispose();
    }
  });

  it('same seed and 2 workers give bit-identical weights twice, and the validation AUC of 1 worker', async () => {
    const train = toySet(1);
    const val = toySet(2);
    const runs = [];
    for (const [name, workers] of [
      ['a', 2],
      ['b', 2],
      ['one', 1],
    ] as const) {
      const outDir = join(tmp, name);
      runs.push(await trainPatchClassifier({ train, val, outDir, resume: false, config, workers }));
    }
    expect(await weightsOf(join(tmp, 'b', 'checkpoint'))).toEqual(
      await weightsOf(join(tmp, 'a', 'checkpoint')),
    );
    // Different arithmetic (per-shard batch norm), so not identical to 1 worker; but as good.
    expect(await weightsOf(join(tmp, 'one', 'checkpoint'))).not.toEqual(
      await weightsOf(join(tmp, 'a', 'checkpoint')),
    );
    const [two, , one] = runs;
    expect(one.best!.auc).toBeGreaterThan(0.9);
    expect(two.best!.auc).toBeGreaterThan(0.9);
    expect(Math.abs(two.best!.auc - one.best!.auc)).toBeLessThan(0.05);
    expect(two.meta.training?.config?.trainWorkers).toBe(2);
  });

  it('a raw batch augmented by each thread gives the gradient of the batch augmented here', async () => {
    const model = buildPatchClassifier(TINY_BN, { seed: 7 });
    const set = toySet(4);
    const B = 16;
    const per = P * P * 3;
    const pixels = set.pixels.slice(0, B * per);
    const y = Float32Array.from(set.labels.subarray(0, B));
    const x = new Float32Array(B * per);
    const rng = createRng(11);
    for (let k = 0; k < B; k++)
      augmentPatch(
        pixels.subarray(k * per, (k + 1) * per),
        P,
        rng,
        STRONG_AUGMENT,
        DEFAULT_NORMALISATION,
        x,
        k * per,
        new Uint8Array(per),
      );
    const again = createRng(11);
    const draws = Array.from({ length: B }, () => drawAugment(again, STRONG_AUGMENT));
    const dp = createDataParallel({ model, arch: TINY_BN, backend: 'wasm', patchSize: P, workers: 2 });
    try {
      // Training-mode outputs use the batch's own statistics, so the first step's BN update does not matter.
      const a = await dp.step(x, y);
      const ga = readFlat(a.grads);
      const b = await dp.step({ pixels, draws, augment: STRONG_AUGMENT, norm: DEFAULT_NORMALISATION }, y);
      expect(Array.from(readFlat(b.grads))).toEqual(Array.from(ga));
      expect(Array.from(b.perSample)).toEqual(Array.from(a.perSample));
      for (const g of [...a.grads, ...b.grads]) g.dispose();
    } finally {
      await dp.close();
      model.dispose();
    }
  });

  it('scoring spread over 2 threads gives the scores of one thread, in index order', async () => {
    const model = buildPatchClassifier(TINY_BN, { seed: 3 });
    const set = toySet(5);
    // 150 shuffled indices: chunks of 64, 64 and 22, the second on the worker.
    const rng = createRng(2);
    const indices = Array.from({ length: 150 }, () => rng.int(set.labels.length));
    const dp = createDataParallel({ model, arch: TINY_BN, backend: 'wasm', patchSize: P, workers: 2 });
    try {
      const one = scorePatches(model, set, indices, DEFAULT_NORMALISATION);
      const two = await dp.score(set, indices, DEFAULT_NORMALISATION);
      expect(new Set(one).size).toBeGreaterThan(100);
      expect(Array.from(two)).toEqual(Array.from(one));
    } finally {
      await dp.close();
      model.dispose();
    }
  });
});
