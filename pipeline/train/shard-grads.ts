/**
 * The gradient of one shard of a training batch, shared by the main thread and the data-parallel
 * workers (workers/train-grads.ts) so both run exactly the same ops. The loss is the shard's summed
 * binary cross-entropy divided by the WHOLE batch size, so the shards' gradients add up to the full
 * batch's mean-loss gradient (exactly so for models without batch norm; with batch norm each shard
 * normalises by its own statistics, as in ordinary data-parallel training without synchronised BN).
 */
import * as tf from '@tensorflow/tfjs';
import type { Normalisation } from '../models/normalise.ts';
import { type AugmentDraw, type AugmentOptions, applyAugment } from './augment.ts';
import { bceTensor } from './score.ts';

/**
 * A batch, or one shard of it, as a training thread takes it: normalised model input, or the raw
 * patches with each sample's augmentation draw, which the thread that takes the shard applies (so the
 * augmentation work is split like the gradient work, and gives the same floats on any thread).
 */
export type BatchInput =
  | { x: Float32Array }
  | { pixels: Uint8Array; draws: AugmentDraw[]; augment: AugmentOptions; norm: Normalisation };

/** Samples [from, to) of `input`, copied (so the copy can be transferred to a worker). */
export function sliceBatch(input: BatchInput, from: number, to: number, per: number): BatchInput {
  if ('x' in input) return { x: input.x.slice(from * per, to * per) };
  return { ...input, pixels: input.pixels.slice(from * per, to * per), draws: input.draws.slice(from, to) };
}

/** The model input of `n` samples of `input`: as given, or augmented and normalised here. */
export function batchFloats(input: BatchInput, n: number, patchSize: number): Float32Array {
  const per = patchSize * patchSize * 3;
  if ('x' in input) return input.x.subarray(0, n * per);
  const x = new Float32Array(n * per);
  const tmp = new Uint8Array(per);
  for (let k = 0; k < n; k++)
    applyAugment(
      input.pixels.subarray(k * per, (k + 1) * per),
      patchSize,
      input.draws[k],
      input.augment,
      input.norm,
      x,
      k * per,
      tmp,
    );
  return x;
}

/** The buffer to transfer with a worker task carrying `input`. */
export function batchBuffer(input: BatchInput): ArrayBuffer {
  return ('x' in input ? input.x.buffer : input.pixels.buffer) as ArrayBuffer;
}

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
