/** Scoring patches of a patch set with a model (no augmentation), and the per-sample loss used by training. */
import * as tf from '@tensorflow/tfjs';
import { type Normalisation, normaliseInto } from '../models/normalise.ts';
import type { PatchSet } from './dataset.ts';

/** Scores in chunks of `batchSize` (data-parallel scoring keeps the same chunks, so the same floats). */
export function scorePatches(
  model: tf.LayersModel,
  set: Pick<PatchSet, 'patchSize' | 'pixels'>,
  indices: ArrayLike<number>,
  norm: Normalisation,
  batchSize = 64,
): Float32Array {
  const P = set.patchSize;
  const per = P * P * 3;
  const out = new Float32Array(indices.length);
  for (let start = 0; start < indices.length; start += batchSize) {
    const n = Math.min(batchSize, indices.length - start);
    const x = new Float32Array(n * per);
    for (let k = 0; k < n; k++) {
      const i = indices[start + k];
      normaliseInto(set.pixels.subarray(i * per, (i + 1) * per), 3, norm, x, k * per);
    }
    const scores = tf.tidy(() =>
      (model.predict(tf.tensor4d(x, [n, P, P, 3])) as tf.Tensor).reshape([n]).dataSync(),
    );
    out.set(scores, start);
  }
  return out;
}

/** Binary cross-entropy per sample (probabilities clipped to [1e-7, 1 − 1e-7]). */
export function bceTensor(p: tf.Tensor, y: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const q = p.clipByValue(1e-7, 1 - 1e-7);
    return y
      .mul(q.log())
      .add(tf.scalar(1).sub(y).mul(tf.scalar(1).sub(q).log()))
      .neg();
  });
}

export function bce(p: ArrayLike<number>, y: ArrayLike<number>): Float32Array {
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const q = Math.min(1 - 1e-7, Math.max(1e-7, p[i]));
    out[i] = -(y[i] * Math.log(q) + (1 - y[i]) * Math.log(1 - q));
  }
  return out;
}
