import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LayersModel } from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ModelError } from '../pipeline/errors.ts';
import { rocAuc } from '../pipeline/eval/auc.ts';
import { type Bag, makeBag, normaliseWeights, predictBag } from '../pipeline/mil/bag.ts';
import { resolveMilConfig } from '../pipeline/mil/config.ts';
import { loadMilModel, saveMilModel } from '../pipeline/mil/io.ts';
import { buildMilModel } from '../pipeline/mil/model.ts';
import { trainMil } from '../pipeline/mil/train.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { createRng } from '../pipeline/util/rng.ts';

const DIM = 12;

/**
 * Toy MIL: every instance is Gaussian noise; a positive bag hides exactly one "tumour" instance shifted
 * along a fixed direction among 15–50 negatives. Returns bags and the index of the key instance.
 */
function toyBags(count: number, seed: number): { bags: Bag[]; key: number[] } {
  const rng = createRng(seed);
  const direction = new Float32Array(DIM);
  direction[0] = 3.5;
  direction[3] = -3.5;
  const bags: Bag[] = [];
  const key: number[] = [];
  for (let b = 0; b < count; b++) {
    const label = (b % 2) as 0 | 1;
    const size = 15 + rng.int(36);
    const x = new Float32Array(size * DIM);
    for (let i = 0; i < x.length; i++) x[i] = rng.normal();
    const k = label === 1 ? rng.int(size) : -1;
    if (k >= 0) for (let d = 0; d < DIM; d++) x[k * DIM + d] += direction[d];
    bags.push(makeBag(`bag${seed}-${b}`, x, DIM, label));
    key.push(k);
  }
  return { bags, key };
}

function permute(bag: Bag, order: number[]): Bag {
  const x = new Float32Array(bag.embeddings.length);
  for (const [dst, src] of order.entries()) {
    x.set(bag.embeddings.subarray(src * bag.dim, (src + 1) * bag.dim), dst * bag.dim);
  }
  return makeBag(`${bag.id}-perm`, x, bag.dim, bag.label);
}

/** σ(cᵀ z + b) with z = Σ_k a_k ReLU(W x_k + b_W), from the model's own parameters (model.ts, eq. 9). */
function pooledProbability(model: LayersModel, bag: Bag, a: Float32Array): number {
  const values = (name: string) =>
    model
      .getLayer(name)
      .getWeights()
      .map((t) => t.dataSync());
  const [w, bw] = values('project');
  const [c, bc] = values('classifier');
  const hidden = bw.length;
  const z = new Float64Array(hidden);
  for (let k = 0; k < bag.size; k++) {
    for (let j = 0; j < hidden; j++) {
      let h = bw[j];
      for (let d = 0; d < bag.dim; d++) h += bag.embeddings[k * bag.dim + d] * w[d * hidden + j];
      z[j] += a[k] * Math.max(0, h);
    }
  }
  let logit = bc[0];
  for (let j = 0; j < hidden; j++) logit += c[j] * z[j];
  return 1 / (1 + Math.exp(-logit));
}

let dir: string;
beforeAll(async () => {
  await initBackend({ log: () => {} });
  dir = mkdtempSync(join(tmpdir(), 'mil-model-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('attention-MIL model', () => {
  it('gives attention weights that sum to 1 over each bag, whatever its size', async () => {
    const model = buildMilModel(resolveMilConfig({ inputDim: DIM, seed: 3 }));
    const { bags } = toyBags(6, 11);
    for (const bag of [...bags, makeBag('single', new Float32Array(DIM).fill(0.5), DIM)]) {
      const { weights, probability } = await predictBag(model, bag);
      expect(weights.length).toBe(bag.size);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(Math.min(...weights)).toBeGreaterThan(0);
      // The bag score is σ(cᵀ Σ a_k h_k + b) with these very weights (a score that ignored them, or
      // pooled anything else, would differ): recomputed here from the layers' parameters.
      expect(probability).toBeCloseTo(pooledProbability(model, bag, weights), 5);
    }
  });

  it('is permutation-invariant: shuffling a bag changes neither its score nor any instance’s weight', async () => {
    const model = buildMilModel(resolveMilConfig({ inputDim: DIM, seed: 5 }));
    const { bags } = toyBags(4, 12);
    for (const bag of bags) {
      const order = Array.from({ length: bag.size }, (_, i) => bag.size - 1 - i);
      const a = await predictBag(model, bag);
      const b = await predictBag(model, permute(bag, order));
      expect(b.probability).toBeCloseTo(a.probability, 6);
      for (const [dst, src] of order.entries()) expect(b.weights[dst]).toBeCloseTo(a.weights[src], 6);
    }
  });

  it('learns a bag with one positive instance among many negatives (held-out AUC above 0.9, attention on the key)', async () => {
    const train = toyBags(80, 21).bags;
    const val = toyBags(20, 22).bags;
    const test = toyBags(40, 23);
    const result = await trainMil(train, val, {
      epochs: 20,
      patience: 10,
      learningRate: 3e-3,
      // tfjs draws dropout masks from an unseeded generator, so with dropout two runs differ (one CI run
      // scored AUC 0.9475 where others scored above 0.95). Without it the run is the same every time.
      dropout: 0,
      seed: 7,
      hiddenDim: 32,
      attentionDim: 16,
    });
    const scores: number[] = [];
    let keyOnTop = 0;
    for (const [i, bag] of test.bags.entries()) {
      const { probability, weights } = await predictBag(result.model, bag);
      scores.push(probability);
      if (bag.label === 1 && weights.indexOf(Math.max(...weights)) === test.key[i]) keyOnTop++;
    }
    const auc = rocAuc(
      scores,
      test.bags.map((b) => b.label as number),
    );
    // 0.9325 on these 40 bags, every run (chance is 0.5).
    expect(auc).toBeGreaterThan(0.9);
    // The hidden tumour instance gets the largest attention in nearly every positive bag.
    expect(keyOnTop).toBeGreaterThanOrEqual(18);
    expect(result.metrics.valAuc).toBeGreaterThan(0.9);
    expect(result.history.length).toBe(result.metrics.epochsRun);
    result.model.dispose();
  });

  it('max-pooling baseline learns the same toy problem', async () => {
    const train = toyBags(80, 31).bags;
    const val = toyBags(20, 32).bags;
    const test = toyBags(40, 33).bags;
    const result = await trainMil(train, val, {
      kind: 'max',
      epochs: 20,
      patience: 10,
      learningRate: 3e-3,
      dropout: 0, // reproducible, as above
      seed: 8,
      hiddenDim: 32,
    });
    const scores = [];
    for (const bag of test) scores.push((await predictBag(result.model, bag)).probability);
    expect(
      rocAuc(
        scores,
        test.map((b) => b.label as number),
      ),
    ).toBeGreaterThan(0.9);
    result.model.dispose();
  });
});

describe('MIL model files and errors', () => {
  it('saves and reloads a model that predicts identically, with its sidecar', async () => {
    const { bags } = toyBags(10, 41);
    const result = await trainMil(bags.slice(0, 8), bags.slice(8), { epochs: 2, seed: 2, hiddenDim: 16 });
    const modelDir = join(dir, 'model');
    await saveMilModel(modelDir, result.model, {
      config: result.config,
      metrics: result.metrics,
      history: result.history,
      embedding: { dim: DIM },
    });
    const { model, sidecar } = await loadMilModel(modelDir);
    expect(sidecar.config.hiddenDim).toBe(16);
    expect(sidecar.history.length).toBe(2);
    for (const bag of bags.slice(0, 3)) {
      const a = await predictBag(result.model, bag);
      const b = await predictBag(model, bag);
      expect(b.probability).toBeCloseTo(a.probability, 6);
      expect(Array.from(b.weights)).toEqual(Array.from(a.weights));
    }
  });

  it('refuses a missing or malformed model directory with ModelError', async () => {
    await expect(loadMilModel(join(dir, 'nope'))).rejects.toThrow(ModelError);
    const bad = join(dir, 'bad');
    rmSync(bad, { recursive: true, force: true });
    await import('node:fs').then((fs) => fs.mkdirSync(bad));
    writeFileSync(join(bad, 'mil.json'), '{"format":"something-else"}');
    await expect(loadMilModel(bad)).rejects.toThrow(ModelError);
  });

  it('rejects bad configs, single-class training sets and mismatched embeddings with ConfigError', async () => {
    expect(() => resolveMilConfig({ inputDim: DIM, dropout: 1.5 })).toThrow(ConfigError);
    expect(() => resolveMilConfig({ inputDim: DIM, kind: 'mean' as 'max' })).toThrow(ConfigError);
    expect(() => makeBag('x', new Float32Array(7), 3)).toThrow(ConfigError);
    const { bags } = toyBags(6, 51);
    await expect(
      trainMil(
        bags.filter((b) => b.label === 1),
        undefined,
        { epochs: 1 },
      ),
    ).rejects.toThrow(/both classes/);
    const other = makeBag('wide', new Float32Array(DIM * 2 * 3), DIM * 2, 0);
    await expect(trainMil([...bags, other], undefined, { epochs: 1 })).rejects.toThrow(ConfigError);
    const model = buildMilModel(resolveMilConfig({ inputDim: DIM }));
    await expect(predictBag(model, other)).rejects.toThrow(/expects 12/);
  });

  it('normalises weights to [0, 1] per bag for display', () => {
    expect(Array.from(normaliseWeights([0.1, 0.3, 0.6]))).toEqual([0, 0.4, 1].map((v) => Math.fround(v)));
    expect(Array.from(normaliseWeights([0.5, 0.5]))).toEqual([1, 1]);
  });
});
