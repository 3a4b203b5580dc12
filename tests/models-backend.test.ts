import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../pipeline/errors.ts';
import { hasTfjsNodeGpu, initBackend, useBackend } from '../pipeline/models/backend.ts';

/** Deterministic pseudo-random floats in [-1, 1). */
function randoms(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

interface Case {
  x: [number, number, number, number];
  k: [number, number];
  out: number;
  stride: 1 | 2;
  pad: 'same' | 'valid';
}

/** Gradients of sum(conv2d(x, w) · r) w.r.t. x and w, on whichever backend is active. */
function convGrads(c: Case, seed: number): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const [b, h, w, ci] = c.x;
    const x = tf.tensor4d(randoms(b * h * w * ci, seed), c.x);
    const filter = tf.tensor4d(randoms(c.k[0] * c.k[1] * ci * c.out, seed + 1), [c.k[0], c.k[1], ci, c.out]);
    const y = tf.conv2d(x, filter, c.stride, c.pad);
    const r = tf.tensor(randoms(y.size, seed + 2), y.shape);
    const loss = (...args: tf.Tensor[]): tf.Tensor =>
      tf
        .conv2d(args[0] as tf.Tensor4D, args[1] as tf.Tensor4D, c.stride, c.pad)
        .mul(r)
        .sum();
    const [dx, dw] = tf.grads(loss)([x, filter]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('backend choice', () => {
  it('rejects an unknown WSI_BACKEND with a named error and honours a valid one', async () => {
    const saved = process.env.WSI_BACKEND;
    const lines: string[] = [];
    try {
      process.env.WSI_BACKEND = 'quantum';
      await expect(initBackend({ log: (l) => lines.push(l) })).rejects.toThrow(ConfigError);
      process.env.WSI_BACKEND = 'cpu';
      expect(await initBackend({ log: (l) => lines.push(l) })).toBe('cpu');
      expect(tf.getBackend()).toBe('cpu');
      expect(lines).toEqual(['tfjs backend: cpu (pure JavaScript; forced by WSI_BACKEND)']);
    } finally {
      if (saved === undefined) delete process.env.WSI_BACKEND;
      else process.env.WSI_BACKEND = saved;
    }
  });
});

describe('wasm convolution gradients (our kernels) against the cpu backend', () => {
  afterAll(async () => {
    await useBackend('wasm');
  });

  // Random shapes: odd and even sizes, non-square kernels, channel counts that are not multiples of 4.
  const cases: Case[] = [];
  let seed = 7;
  for (const stride of [1, 2] as const) {
    for (const pad of ['same', 'valid'] as const) {
      for (let i = 0; i < 3; i++) {
        const r = randoms(6, seed++).map((v) => (v + 1) / 2);
        cases.push({
          x: [
            1 + Math.floor(r[0] * 3),
            6 + Math.floor(r[1] * 9),
            6 + Math.floor(r[2] * 9),
            1 + Math.floor(r[3] * 6),
          ],
          k: [1 + 2 * Math.floor(r[4] * 3), i === 1 ? 2 : 3],
          out: 1 + Math.floor(r[5] * 7),
          stride,
          pad,
        });
      }
    }
  }

  for (const c of cases) {
    it(`x=${c.x.join('x')} k=${c.k.join('x')}→${c.out} stride ${c.stride} ${c.pad}`, async () => {
      await useBackend('cpu');
      const ref = convGrads(c, 11);
      await useBackend('wasm');
      expect(tf.getBackend()).toBe('wasm');
      const got = convGrads(c, 11);
      const scale = Math.max(1, ...Array.from(ref.dw, Math.abs));
      expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThan(1e-4);
      expect(maxAbsDiff(got.dw, ref.dw) / scale).toBeLessThan(1e-5);
    });
  }

  it('does not leak wasm memory across a training step', async () => {
    await useBackend('wasm');
    const c: Case = { x: [2, 12, 12, 3], k: [3, 3], out: 4, stride: 2, pad: 'same' };
    convGrads(c, 1); // warm caches
    const before = tf.memory().numTensors;
    const bytes = tf.memory().numBytes;
    convGrads(c, 2);
    expect(tf.memory().numTensors).toBe(before);
    expect(tf.memory().numBytes).toBe(bytes);
  });
});

describe('wasm Tile (block copies) against the cpu backend', () => {
  const cases: { shape: number[]; reps: number[]; dtype: 'float32' | 'int32' | 'bool' }[] = [
    { shape: [1, 1, 1, 5], reps: [3, 4, 2, 1], dtype: 'float32' }, // the batch-norm gradient's case
    { shape: [2, 3], reps: [2, 3], dtype: 'int32' },
    { shape: [3, 1, 2], reps: [1, 4, 1], dtype: 'bool' },
    { shape: [4], reps: [1], dtype: 'float32' },
    { shape: [2, 2, 3, 2], reps: [2, 1, 3, 2], dtype: 'float32' },
  ];
  for (const c of cases) {
    it(`${c.dtype} ${c.shape.join('x')} by ${c.reps.join('x')}`, async () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const values = Array.from(randoms(n, n + 3), (v) =>
        c.dtype === 'float32' ? v : Math.round(v * 5) > 0 ? 1 : 0,
      );
      const run = () =>
        tf.tidy(() =>
          Array.from(tf.tile(tf.tensor(values, c.shape, c.dtype), c.reps).dataSync() as Float32Array),
        );
      await useBackend('cpu');
      const ref = run();
      await useBackend('wasm');
      const got = run();
      expect(got).toEqual(ref);
    });
  }
});

describe('wasm Sum and Mean (transpose-free over leading axes) against the cpu backend', () => {
  const cases: { shape: number[]; axis: number | number[]; keepDims: boolean }[] = [
    { shape: [3, 5, 4, 6], axis: [0, 1, 2], keepDims: false }, // per-channel, as batch norm does
    { shape: [3, 5, 4, 6], axis: [2, 0, 1], keepDims: true },
    { shape: [7, 3], axis: 0, keepDims: false },
    { shape: [2, 3, 4], axis: [-3, -2], keepDims: false },
    { shape: [3, 5, 4, 6], axis: [1, 2], keepDims: false }, // not leading: stock kernel
    { shape: [4, 5], axis: [0, 1], keepDims: false }, // everything: stock kernel
  ];
  for (const c of cases) {
    it(`${c.shape.join('x')} over ${JSON.stringify(c.axis)}${c.keepDims ? ' keepDims' : ''}`, async () => {
      const n = c.shape.reduce((a, b) => a * b, 1);
      const run = () =>
        tf.tidy(() => {
          const x = tf.tensor(randoms(n, n), c.shape);
          const s = tf.sum(x, c.axis, c.keepDims);
          const m = tf.mean(x, c.axis, c.keepDims);
          return { shape: s.shape, sum: Array.from(s.dataSync()), mean: Array.from(m.dataSync()) };
        });
      await useBackend('cpu');
      const ref = run();
      await useBackend('wasm');
      const got = run();
      expect(got.shape).toEqual(ref.shape);
      for (let i = 0; i < ref.sum.length; i++) {
        expect(got.sum[i]).toBeCloseTo(ref.sum[i], 4);
        expect(got.mean[i]).toBeCloseTo(ref.mean[i], 5);
      }
    });
  }
});

describe('tensorflow backend', () => {
  it('runs the same gradient check on tfjs-node-gpu when it is installed', async (ctx) => {
    if (!(await hasTfjsNodeGpu())) {
      ctx.skip('@tensorflow/tfjs-node-gpu is not installed: tensorflow backend not tested');
      return;
    }
    await useBackend('cpu');
    const c: Case = { x: [2, 9, 9, 3], k: [3, 3], out: 5, stride: 2, pad: 'same' };
    const ref = convGrads(c, 3);
    await useBackend('tensorflow');
    const got = convGrads(c, 3);
    expect(maxAbsDiff(got.dx, ref.dx)).toBeLessThan(1e-4);
    expect(maxAbsDiff(got.dw, ref.dw)).toBeLessThan(1e-4);
  });
});
