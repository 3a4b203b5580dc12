/**
 * Data-parallel gradients for patch-classifier training. Each step the batch is cut into N contiguous
 * shards; the main thread computes shard 0 while N − 1 pool workers (workers/train-grads.ts) compute the
 * others on a copy of the model set to the same weights (broadcast with the task). The gradients are
 * summed in shard order, so one optimiser step on the main thread follows, and the batch-norm moving
 * statistics of the N shards are averaged. Every step sends the current weights, so workers hold no
 * state that could drift: a given seed and worker count reproduce the same weights bit for bit.
 */
import { availableParallelism } from 'node:os';
import type * as tfTypes from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import type { BackendName } from '../models/backend.ts';
import type { ArchSpec } from '../models/patch-classifier.ts';
import { createPool, type WorkerPool } from '../pool.ts';
import type { TrainGradsResult, TrainGradsTask } from '../tasks.ts';
import { readFlat, shardGradients, writeFlat } from './shard-grads.ts';

/** Fewest samples per worker the trainer allows (smaller batches use fewer workers). */
export const MIN_SHARD = 8;

/** Default worker count for `--train-workers`: the available cores, at most 8. */
export function defaultTrainWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

export function checkTrainWorkers(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw new ConfigError(`--train-workers must be an integer from 1 to 64, got ${n}`);
  return n;
}

/** Shard boundaries: N contiguous, near-equal parts of a batch of B (the first B mod N one larger). */
export function shardBounds(batch: number, shards: number): number[] {
  const out = [0];
  for (let s = 0; s < shards; s++)
    out.push(out[s] + Math.floor(batch / shards) + (s < batch % shards ? 1 : 0));
  return out;
}

export interface ParallelStep {
  /** Whole-batch mean loss. */
  loss: number;
  perSample: Float32Array;
  /** Whole-batch gradients in model.trainableWeights order (caller disposes). */
  grads: tf.Tensor[];
}

export interface DataParallel {
  readonly workers: number;
  step(x: Float32Array, y: Float32Array): Promise<ParallelStep>;
  close(): Promise<void>;
}

export function createDataParallel(options: {
  model: tfTypes.LayersModel;
  arch: ArchSpec;
  backend: BackendName;
  patchSize: number;
  workers: number;
}): DataParallel {
  const { model, arch, backend, patchSize } = options;
  const N = checkTrainWorkers(options.workers);
  if (N < 2) throw new ConfigError('data-parallel training needs at least 2 workers');
  const pool: WorkerPool = createPool({ workers: N - 1 });
  const all = model.weights.map((w) => w.read() as tf.Variable);
  const trainable = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const stateVars = model.nonTrainableWeights.map((w) => w.read() as tf.Variable);
  const per = patchSize * patchSize * 3;
  return {
    workers: N,
    async step(x, y) {
      const B = y.length;
      if (B < N) throw new ConfigError(`batch of ${B} cannot be split over ${N} training workers`);
      const bounds = shardBounds(B, N);
      const weights = readFlat(all);
      const pending: Promise<TrainGradsResult>[] = [];
      for (let s = 1; s < N; s++) {
        const xs = x.slice(bounds[s] * per, bounds[s + 1] * per);
        const ys = y.slice(bounds[s], bounds[s + 1]);
        const task: TrainGradsTask = {
          backend,
          arch,
          weights,
          x: xs,
          y: ys,
          patchSize,
          batchTotal: B,
        };
        pending.push(pool.run<TrainGradsResult>('train-grads', task, [xs.buffer, ys.buffer]));
      }
      // Shard 0 here, while the workers compute theirs.
      const own = shardGradients(
        model,
        trainable,
        x.subarray(0, bounds[1] * per),
        y.subarray(0, bounds[1]),
        patchSize,
        B,
      );
      const results = await Promise.all(pending);
      let loss = own.loss;
      const perSample = new Float32Array(B);
      perSample.set(own.perSample, 0);
      // Sum in shard order (fixed), one variable at a time, in float32 like the single-thread gradient.
      const sum = readFlat(own.grads);
      for (const g of own.grads) g.dispose();
      const state = Float64Array.from(readFlat(stateVars));
      results.forEach((r, k) => {
        loss += r.loss;
        perSample.set(r.perSample, bounds[k + 1]);
        for (let i = 0; i < sum.length; i++) sum[i] += r.grads[i];
        for (let i = 0; i < state.length; i++) state[i] += r.state[i];
      });
      if (state.length)
        writeFlat(
          stateVars,
          Float32Array.from(state, (v) => v / N),
        );
      const grads: tf.Tensor[] = [];
      let at = 0;
      for (const v of trainable) {
        grads.push(tf.tensor(sum.subarray(at, at + v.size), v.shape));
        at += v.size;
      }
      return { loss, perSample, grads };
    },
    close: () => pool.close(),
  };
}
