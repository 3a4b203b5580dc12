/**
 * The gradient of one shard of a training batch, shared by the main thread and the data-parallel
 * workers (workers/train-grads.ts) so both run exactly the same ops. The loss is the shard's summed
 * binary cross-entropy divided by the WHOLE batch size, so the shards' gradients add up to the full
 * batch's mean-loss gradient (exactly so for models without batch norm; with batch norm each shard
 * normalises by its own statistics, as in ordinary data-parallel training without synchronised BN).
 */
import * as tf from '@tensorflow/tfjs';
import { bceTensor } from './score.ts';

export interface ShardGradients {
  /** Summed shard loss / whole batch size. */
  loss: number;
  perSample: Float32Array;
  /** One gradient per variable, in `vars` order (caller disposes). */
  grads: tf.Tensor[];
}

export function shardGradients(
  model: tf.LayersModel,
  vars: tf.Variable[],
  x: Float32Array,
  y: Float32Array,
  patchSize: number,
  batchTotal: number,
): ShardGradients {
  const n = y.length;
  let perSample: Float32Array = new Float32Array(n);
  const xt = tf.tensor4d(x, [n, patchSize, patchSize, 3]);
  const yt = tf.tensor1d(y);
  const { value, grads } = tf.variableGrads(() => {
    const p = (model.apply(xt, { training: true }) as tf.Tensor).reshape([n]);
    const l = bceTensor(p, yt);
    perSample = l.dataSync() as Float32Array;
    return l.sum().div(batchTotal) as tf.Scalar;
  }, vars);
  xt.dispose();
  yt.dispose();
  const loss = value.dataSync()[0];
  value.dispose();
  return { loss, perSample, grads: vars.map((v) => grads[v.name]) };
}

/** The values of `tensors`, concatenated in order. */
export function readFlat(tensors: tf.Tensor[]): Float32Array {
  const out = new Float32Array(tensors.reduce((a, t) => a + t.size, 0));
  let at = 0;
  for (const t of tensors) {
    out.set(t.dataSync() as Float32Array, at);
    at += t.size;
  }
  return out;
}

/** Assigns consecutive slices of `flat` to `vars` (the inverse of readFlat). */
export function writeFlat(vars: tf.Variable[], flat: Float32Array): void {
  let at = 0;
  for (const v of vars) {
    const t = tf.tensor(flat.subarray(at, at + v.size), v.shape);
    v.assign(t);
    t.dispose();
    at += v.size;
  }
  if (at !== flat.length) throw new Error(`flat weights: ${flat.length} values for ${at} model values`);
}
