import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../pipeline/errors.ts';
import { useBackend } from '../pipeline/models/backend.ts';
import { loadModel, readModelMeta } from '../pipeline/models/model-io.ts';
import type { ArchSpec } from '../pipeline/models/patch-classifier.ts';
import { type AugmentOptions, augmentPatch } from '../pipeline/train/augment.ts';
import { loadCheckpoint } from '../pipeline/train/checkpoint.ts';
import { memoryPatchSet, type PatchSet } from '../pipeline/train/dataset.ts';
import { DEFAULT_TRAIN, type TrainConfig, trainPatchClassifier } from '../pipeline/train/trainer.ts';
import { createRng } from '../pipeline/util/rng.ts';

// A tiny fully convolutional net (receptive field 8) so tests train in seconds.
const TINY: ArchSpec = {
  name: 'tiny',
  layers: [
    { type: 'conv', filters: 4, kernel: 3, batchNorm: true },
    { type: 'maxpool', size: 2 },
    { type: 'conv', filters: 8, kernel: 3 },
  ],
};
const P = 8;

/** 200 patches, 10 tumour: tumour patches pale pink, normal ones dark blue, both noisy. */
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
        pixels[(i * P * P + k) * 3 + c] = Math.max(0, Math.min(255, base[c] + rng.normal() * 25));
  }
  return memoryPatchSet(pixels, labels, P);
}

const config = (o: Partial<TrainConfig>): TrainConfig => ({
  ...DEFAULT_TRAIN,
  arch: TINY,
  sampler: 'cased',
  steps: 8,
  batchSize: 8,
  learningRate: 0.01,
  valEvery: 4,
  curriculumSteps: 4,
  refreshEvery: 2,
  refreshSize: 16,
  ...o,
});

const tmp = mkdtempSync(join(tmpdir(), 'train-'));
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

describe('patch classifier training', () => {
  it('learns a separable toy problem: validation AUC near 1, model saved with its training metadata', async () => {
    const out = join(tmp, 'learn');
    const r = await trainPatchClassifier({
      train: toySet(1),
      val: toySet(2),
      outDir: out,
      resume: false,
      config: config({ steps: 30, valEvery: 10 }),
    });
    expect(r.best).not.toBeNull();
    expect(r.best!.auc).toBeGreaterThan(0.95);
    const meta = readModelMeta(out);
    expect(meta.training?.steps).toBe(r.best!.step); // MODEL_DIR holds the best model, not the last
    expect(meta.training?.metrics?.valAuc).toBeCloseTo(r.best!.auc, 9);
  });

  it('resumes exactly: 4 steps + resume to 8 gives the same weights and sampler state as 8 straight', async () => {
    const straight = join(tmp, 'straight');
    const split = join(tmp, 'split');
    const train = toySet(3);
    await trainPatchClassifier({ train, outDir: straight, resume: false, config: config({}) });
    await trainPatchClassifier({ train, outDir: split, resume: false, config: config({ steps: 4 }) });
    const r = await trainPatchClassifier({ train, outDir: split, resume: true, config: config({}) });
    expect(r.resumedFrom).toBe(4);
    expect(await weightsOf(join(split, 'checkpoint'))).toEqual(await weightsOf(join(straight, 'checkpoint')));
    const a = await loadCheckpoint(join(straight, 'checkpoint'));
    const b = await loadCheckpoint(join(split, 'checkpoint'));
    expect(b.state.sampler).toEqual(a.state.sampler);
    expect(b.adam.moments.map((m) => Array.from(m))).toEqual(a.adam.moments.map((m) => Array.from(m)));
    a.model.dispose();
    b.model.dispose();
  });

  it('refuses --resume without a checkpoint, and a fresh start over an existing one', async () => {
    const train = toySet(4);
    await expect(
      trainPatchClassifier({ train, outDir: join(tmp, 'none'), resume: true, config: config({}) }),
    ).rejects.toThrow(ConfigError);
    await expect(
      trainPatchClassifier({ train, outDir: join(tmp, 'straight'), resume: false, config: config({}) }),
    ).rejects.toThrow(/already holds a training checkpoint/);
    await expect(
      trainPatchClassifier({
        train,
        outDir: join(tmp, 'straight'),
        resume: true,
        config: config({ learningRate: 0.5 }),
      }),
    ).rejects.toThrow(/other settings/);
  });
});

describe('augmentation', () => {
  const norm = {
    mean: [0, 0, 0] as [number, number, number],
    std: [1 / 255, 1 / 255, 1 / 255] as [number, number, number],
  };
  const src = Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => (i * 37) % 256);
  const run = (o: AugmentOptions, seed: number): number[] => {
    const out = new Float32Array(48);
    augmentPatch(src, 4, createRng(seed), o, norm, out, 0, new Uint8Array(48));
    return Array.from(out, Math.round);
  };
  const pixelsOf = (v: number[]): string[] =>
    Array.from({ length: 16 }, (_, k) => v.slice(k * 3, k * 3 + 3).join(',')).sort();

  it('flips and rotates without changing any pixel value', () => {
    const geometric = { geometric: true, stainScale: 0, stainShift: 0 };
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      const v = run(geometric, seed);
      expect(pixelsOf(v)).toEqual(pixelsOf(Array.from(src)));
      seen.add(v.join(','));
    }
    expect(seen.size).toBe(8); // the 8 symmetries of the square
  });

  it('leaves pixels alone with everything off, and jitters colours by a bounded amount in H&E space', () => {
    expect(run({ geometric: false, stainScale: 0, stainShift: 0 }, 1)).toEqual(Array.from(src));
    const jittered = run({ geometric: false, stainScale: 0.05, stainShift: 0.05 }, 1);
    const diffs = jittered.map((v, i) => Math.abs(v - src[i]));
    expect(Math.max(...diffs)).toBeGreaterThan(0);
    expect(Math.max(...diffs)).toBeLessThan(60);
  });
});
