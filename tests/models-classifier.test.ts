import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../pipeline/errors.ts';
import { hasTfjsNodeGpu, useBackend } from '../pipeline/models/backend.ts';
import { geometryOf, inputSizeFor, outputSize } from '../pipeline/models/geometry.ts';
import { loadModel, readModelMeta, SIDECAR_JSON, saveModel } from '../pipeline/models/model-io.ts';
import {
  type ArchSpec,
  archGeometry,
  buildPatchClassifier,
  embeddingModel,
  LARGE_ARCH,
  modelGeometry,
  newPatchClassifier,
  SMALL_ARCH,
  stepsOf,
} from '../pipeline/models/patch-classifier.ts';

// The same tests run on tfjs-node-gpu with WSI_BACKEND=tensorflow (skipped, with a message, when absent).
const BACKEND = process.env.WSI_BACKEND === 'tensorflow' ? 'tensorflow' : 'wasm';
const SKIP = BACKEND === 'tensorflow' && !(await hasTfjsNodeGpu());
if (SKIP)
  console.warn('WSI_BACKEND=tensorflow but @tensorflow/tfjs-node-gpu is not installed: skipping these tests');

const ARCHS: ArchSpec[] = [
  SMALL_ARCH,
  LARGE_ARCH,
  {
    name: 'strided-dilated',
    layers: [
      { type: 'conv', filters: 4, kernel: 5, stride: 2 },
      { type: 'conv', filters: 4, kernel: 3, dilation: 2 },
      { type: 'avgpool', size: 3, stride: 1 },
      { type: 'conv', filters: 4, kernel: 3, stride: 3 },
    ],
  },
  {
    name: 'avg-only',
    layers: [
      { type: 'conv', filters: 3, kernel: 3 },
      { type: 'avgpool', size: 2 },
      { type: 'conv', filters: 3, kernel: 5 },
      { type: 'avgpool', size: 3 },
      { type: 'conv', filters: 3, kernel: 1 },
    ],
  },
];

beforeAll(async () => {
  if (!SKIP) await useBackend(BACKEND);
});

describe.skipIf(SKIP)('receptive field and stride', () => {
  it('matches hand-derived values for the default architectures', () => {
    expect(archGeometry(SMALL_ARCH)).toEqual({ receptiveField: 68, stride: 8 });
    expect(archGeometry(LARGE_ARCH)).toEqual({ receptiveField: 140, stride: 16 });
    // 5×5/2 → RF 5, jump 2; 3×3 dil 2 → +4·2; 3×3 pool /1 → +2·2; 3×3/3 → +2·2: RF 21, stride 6
    expect(archGeometry(ARCHS[2])).toEqual({ receptiveField: 21, stride: 6 });
  });

  for (const spec of ARCHS) {
    it(`${spec.name}: a built model maps RF + k·stride inputs to k + 1 outputs, and reads the same geometry`, () => {
      const g = archGeometry(spec);
      const model = buildPatchClassifier(spec);
      expect(modelGeometry(model)).toEqual(g);
      expect(outputSize(stepsOf(spec), g.receptiveField - 1)).toBe(0);
      for (const k of [1, 3]) {
        const size = inputSizeFor(g, k);
        expect(outputSize(stepsOf(spec), size)).toBe(k);
        const y = tf.tidy(() => model.predict(tf.zeros([1, size, size, 3])) as tf.Tensor);
        expect(y.shape).toEqual([1, k, k, 1]);
        y.dispose();
      }
      model.dispose();
    });
  }

  it('an output value depends on exactly the receptive-field window (gradient support)', () => {
    // Average pooling and linear layers so every input pixel in the window has a non-zero gradient
    // (tfjs has no gradient for dilated convolutions, so the strided case here is undilated).
    const strided: ArchSpec = {
      name: 'strided',
      layers: [
        { type: 'conv', filters: 4, kernel: 5, stride: 2 },
        { type: 'avgpool', size: 3, stride: 1 },
        { type: 'conv', filters: 4, kernel: 3, stride: 3 },
      ],
    };
    for (const spec of [strided, ARCHS[3]]) {
      const linear: ArchSpec = {
        name: `${spec.name}-linear`,
        layers: spec.layers.map((l) => (l.type === 'conv' ? { ...l, activation: 'linear' as const } : l)),
      };
      const g = archGeometry(linear);
      const model = buildPatchClassifier(linear);
      model.setWeights(model.getWeights().map((w) => tf.onesLike(w).mul(0.1)));
      const size = inputSizeFor(g, 3);
      const grad = tf.tidy(() =>
        tf.grad((x: tf.Tensor) => {
          const y = model.apply(x) as tf.Tensor4D;
          return y.slice([0, 1, 2, 0], [1, 1, 1, 1]).sum();
        })(tf.zeros([1, size, size, 3])),
      );
      const abs = grad.abs().sum(3).squeeze().arraySync() as number[][];
      grad.dispose();
      const rows = abs.map((r) => r.some((v) => v > 0));
      const cols = abs[0].map((_, j) => abs.some((r) => r[j] > 0));
      expect(rows.indexOf(true)).toBe(1 * g.stride);
      expect(rows.lastIndexOf(true)).toBe(1 * g.stride + g.receptiveField - 1);
      expect(cols.indexOf(true)).toBe(2 * g.stride);
      expect(cols.lastIndexOf(true)).toBe(2 * g.stride + g.receptiveField - 1);
      model.dispose();
    }
  });

  it('refuses same padding and bad layer values with ModelError', () => {
    const input = tf.input({ shape: [null, null, 3] });
    const out = tf.layers
      .conv2d({ filters: 1, kernelSize: 3, padding: 'same' })
      .apply(input) as tf.SymbolicTensor;
    expect(() => modelGeometry(tf.model({ inputs: input, outputs: out }))).toThrow(ModelError);
    expect(() => geometryOf([{ kernel: 0, stride: 1, dilation: 1 }])).toThrow(ModelError);
  });
});

describe.skipIf(SKIP)('patch classifier save/load and embeddings', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wsi-model-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips model.json + weights + sidecar with identical scores', async () => {
    const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1, seed: 3 });
    expect(meta.input.patchSize).toBe(68);
    const x = tf.randomUniform([2, 84, 84, 3], -1, 1, 'float32', 5);
    const before = (model.predict(x) as tf.Tensor).dataSync().slice();
    await saveModel(path.join(dir, 'm'), model, meta);
    const loaded = await loadModel(path.join(dir, 'm'));
    expect(loaded.meta).toEqual(meta);
    const after = (loaded.model.predict(x) as tf.Tensor).dataSync();
    expect(after.length).toBe(2 * 3 * 3);
    expect(Array.from(after)).toEqual(Array.from(before));
    const embed = embeddingModel(loaded.model);
    const e = embed(x.slice([0, 0, 0, 0], [2, 68, 68, 3]) as tf.Tensor4D);
    expect(e.shape).toEqual([2, 64]);
    e.dispose();
    x.dispose();
  });

  it('names what is wrong with a broken model directory', async () => {
    await expect(loadModel(path.join(dir, 'nope'))).rejects.toThrow(/model directory not found/);
    const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1 });
    await saveModel(path.join(dir, 'bad'), model, meta);
    writeFileSync(path.join(dir, 'bad', SIDECAR_JSON), '{ nope');
    expect(() => readModelMeta(path.join(dir, 'bad'))).toThrow(/not valid JSON/);
    writeFileSync(
      path.join(dir, 'bad', SIDECAR_JSON),
      JSON.stringify({ ...meta, input: { ...meta.input, mpp: -1 } }),
    );
    expect(() => readModelMeta(path.join(dir, 'bad'))).toThrow(ModelError);
    rmSync(path.join(dir, 'bad', 'weights.bin'));
    writeFileSync(path.join(dir, 'bad', SIDECAR_JSON), JSON.stringify(meta));
    await expect(loadModel(path.join(dir, 'bad'))).rejects.toThrow(/weights not found/);
  });

  it('trains on the chosen backend (wasm: with our gradient kernels), loss falling on a learnable task', async () => {
    expect(tf.getBackend()).toBe(BACKEND);
    const spec: ArchSpec = {
      name: 'tiny',
      layers: [
        { type: 'conv', filters: 8, kernel: 3, batchNorm: true },
        { type: 'maxpool', size: 2 },
        { type: 'conv', filters: 8, kernel: 3 },
      ],
    };
    const size = archGeometry(spec).receptiveField;
    const model = buildPatchClassifier(spec, { seed: 9 });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'binaryCrossentropy' });
    // Label = whether the patch is bright: a task any working conv net learns in a few steps.
    const x = tf
      .randomUniform([32, size, size, 3], -1, 1, 'float32', 1)
      .add(tf.randomUniform([32, 1, 1, 1], -1, 1, 'float32', 2));
    const y = x.mean([1, 2, 3]).greater(0).cast('float32').reshape([32, 1, 1, 1]);
    const h = await model.fit(x, y, { epochs: 25, batchSize: 32, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] * 0.5);
    tf.dispose([x, y]);
    model.dispose();
  });
});
