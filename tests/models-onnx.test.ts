import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ModelError } from '../pipeline/errors.ts';
import { hasTfjsNodeGpu, useBackend } from '../pipeline/models/backend.ts';
import { exportOnnx } from '../pipeline/models/onnx-export.ts';
import { createOnnxRunner } from '../pipeline/models/onnx-runner.ts';
import { buildPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';

// The same tests run on tfjs-node-gpu with WSI_BACKEND=tensorflow (skipped, with a message, when absent).
const BACKEND = process.env.WSI_BACKEND === 'tensorflow' ? 'tensorflow' : 'wasm';
const SKIP = BACKEND === 'tensorflow' && !(await hasTfjsNodeGpu());
if (SKIP)
  console.warn('WSI_BACKEND=tensorflow but @tensorflow/tfjs-node-gpu is not installed: skipping these tests');

/** Gives every weight (incl. batch-norm statistics) non-trivial values so folding errors would show. */
function randomiseWeights(model: tf.LayersModel, seed: number): void {
  let s = seed;
  for (const layer of model.layers) {
    const ws = layer.getWeights();
    if (ws.length === 0) continue;
    layer.setWeights(
      layer.weights.map((v, i) => {
        const shape = ws[i].shape;
        if (v.originalName.endsWith('moving_variance'))
          return tf.randomUniform(shape, 0.5, 2, 'float32', s++);
        if (v.originalName.endsWith('gamma')) return tf.randomUniform(shape, 0.5, 1.5, 'float32', s++);
        const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : 1;
        return tf.randomNormal(shape, 0, 1 / Math.sqrt(fanIn), 'float32', s++);
      }),
    );
  }
}

async function agreement(
  model: tf.LayersModel,
  shape: [number, number, number, number],
  inputLayout: 'nhwc' | 'nchw' = 'nhwc',
): Promise<number> {
  const x = tf.randomUniform(shape, -2, 2, 'float32', 42);
  const ref = model.predict(x) as tf.Tensor;
  const runner = await createOnnxRunner(exportOnnx(model, { inputLayout }), { gpu: false });
  const planar = inputLayout === 'nchw' ? tf.transpose(x, [0, 3, 1, 2]) : x;
  try {
    expect(runner.provider).toBe('cpu');
    expect(runner.inputLayout).toBe(inputLayout);
    const [n, h, w, c] = shape;
    const got = await runner.run(
      planar.dataSync() as Float32Array,
      inputLayout === 'nchw' ? [n, c, h, w] : shape,
    );
    expect(got.shape).toEqual(ref.shape);
    const r = ref.dataSync();
    let m = 0;
    for (let i = 0; i < r.length; i++) m = Math.max(m, Math.abs(r[i] - got.data[i]));
    return m;
  } finally {
    tf.dispose([x, ref, planar]);
    await runner.close();
  }
}

beforeAll(async () => {
  if (!SKIP) await useBackend(BACKEND);
});

describe.skipIf(SKIP)('ONNX export agrees with tfjs', () => {
  it('the default patch classifier (batch norm folded into the convolutions), on a tile', async () => {
    const model = buildPatchClassifier(SMALL_ARCH, { seed: 2 });
    randomiseWeights(model, 10);
    expect(await agreement(model, [2, 68 + 8 * 5, 68 + 8 * 3, 3])).toBeLessThan(1e-4);
    model.dispose();
  });

  it('the default patch classifier exported with planar NCHW input (what wsi infer runs)', async () => {
    const model = buildPatchClassifier(SMALL_ARCH, { seed: 3 });
    randomiseWeights(model, 30);
    expect(await agreement(model, [2, 68 + 8 * 4, 68 + 8 * 6, 3], 'nchw')).toBeLessThan(1e-4);
    model.dispose();
  });

  it('a graph with add, concat, upsampling, unfolded batch norm, same padding, average pooling and softmax', async () => {
    const input = tf.input({ shape: [null, null, 3] });
    const c1 = tf.layers
      .conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' })
      .apply(input);
    const bn = tf.layers.batchNormalization().apply(c1); // after a ReLU: exported unfolded
    const pooled = tf.layers.maxPooling2d({ poolSize: 2 }).apply(bn);
    const c2 = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same' }).apply(pooled);
    const sum = tf.layers.add().apply([pooled as tf.SymbolicTensor, c2 as tf.SymbolicTensor]);
    const avg = tf.layers.averagePooling2d({ poolSize: 2 }).apply(sum);
    const up = tf.layers.upSampling2d({ size: [2, 2] }).apply(avg);
    const upBilinear = tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(avg);
    const cat = tf.layers.concatenate().apply([up as tf.SymbolicTensor, upBilinear as tf.SymbolicTensor]);
    const act = tf.layers.reLU().apply(cat);
    const head = tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'softmax' }).apply(act);
    const model = tf.model({ inputs: input, outputs: head as tf.SymbolicTensor });
    randomiseWeights(model, 20);
    expect(await agreement(model, [2, 24, 20, 3])).toBeLessThan(1e-4);
    model.dispose();
  });

  it('refuses layers it cannot export, naming them', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const flat = tf.layers.flatten().apply(input);
    const dense = tf.layers.dense({ units: 1, name: 'my_dense' }).apply(flat);
    const model = tf.model({ inputs: input, outputs: dense as tf.SymbolicTensor });
    expect(() => exportOnnx(model)).toThrow(ModelError);
    expect(() => exportOnnx(model)).toThrow(/flatten/);
  });
});
