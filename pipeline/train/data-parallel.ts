/**
 * Data-parallel gradients for patch-classifier training. Each step the batch is cut into N contiguous
 * shards; the main thread computes shard 0 while N − 1 pool workers (workers/train-grads.ts) compute the
 * others on a copy of the model set to the same weights (broadcast with the task). A raw batch comes with
 * each sample's augmentation draw (drawn in order on the main thread) and each thread augments its own
 * shard. The gradients are summed in shard order, so one optimiser step on the main thread follows, and
 * the batch-norm moving statistics of the N shards are averaged. Every step sends the current weights,
 * so workers hold no state that could drift: a given seed and worker count reproduce the same weights
 * bit for bit. `score` spreads the trainer's patch scoring (sampler refresh, validation) the same way.
 *
 * Measured (bench/train-step.ts, fcn-small, batch 32): the weights (147k floats) and gradients cross the
 * thread in well under 1 ms and Adam takes about 3 ms of a ~400 ms half-step, so the serial part is ~1%;
 * what the second thread costs is mostly the two cores sharing caches (each half-step's CPU time grows
 * ~5–10% when both run). Keeping replicas in step with a second Adam instead of broadcasting weights
 * would save nothing measurable, so the simpler broadcast stays.
 */
import { availableParallelism } from 'node:os';
import type * as tfTypes from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import type { BackendName } from '../models/backend.ts';
import type { Normalisation } from '../models/normalise.ts';
import type { ArchSpec } from '../models/patch-classifier.ts';
import { createPool, type WorkerPool } from '../pool.ts';
import type { TrainGradsResult, TrainGradsTask, TrainScoreResult, TrainScoreTask } from '../tasks.ts';
import type { PatchSet } from './dataset.ts';
import { scorePatches } from './score.ts';
import {
  type BatchInput,
  batchBuffer,
  batchFloats,
  readFlat,
  shardGradients,
  sliceBatch,
  writeFlat,
} from './shard-grads.ts';

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
  /** Gradients of one batch: normalised floats (`Float32Array` or `{ x }`) or raw patches with draws. */
  step(input: Float32Array | BatchInput, y: Float32Array): Promise<ParallelStep>;
  /** scorePatches on the model's current weights, its chunks spread over the threads (same floats). */
  score(
    set: Pick<PatchSet, 'patchSize' | 'pixels'>,
    indices: ArrayLike<number>,
    norm: Normalisation,
    batchSize?: number,
  ): Promise<Float32Array>;
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
    async step(batch, y) {
      const input: BatchInput = batch instanceof Float32Array ? { x: batch } : batch;
      const B = y.length;
      if (B < N) throw new ConfigError(`batch of ${B} cannot be split over ${N} training workers`);
      const bounds = shardBounds(B, N);
      const weights = readFlat(all);
      const pending: Promise<TrainGradsResult>[] = [];
      for (let s = 1; s < N; s++) {
        const shard = sliceBatch(input, bounds[s], bounds[s + 1], per);
        const ys = y.slice(bounds[s], bounds[s + 1]);
        const task: TrainGradsTask = {
          backend,
          arch,
          weights,
          input: shard,
          y: ys,
          patchSize,
          batchTotal: B,
        };
        pending.push(pool.run<TrainGradsResult>('train-grads', task, [batchBuffer(shard), ys.buffer]));
      }
      // Shard 0 here, while the workers compute theirs; its gradients and state are read before waiting.
      const own = shardGradients(
        model,
        trainable,
        batchFloats(input, bounds[1], patchSize),
        y.subarray(0, bounds[1]),
        patchSize,
        B,
      );
      const sum = readFlat(own.grads);
      for (const g of own.grads) g.dispose();
      const state = Float64Array.from(readFlat(stateVars));
      const results = await Promise.all(pending);
      let loss = own.loss;
      const perSample = new Float32Array(B);
      perSample.set(own.perSample, 0);
      // Sum in shard order (fixed), in float32 like the single-thread gradient.
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
    async score(set, indices, norm, batchSize = 64) {
      const out = new Float32Array(indices.length);
      const chunks = Math.ceil(indices.length / batchSize);
      const weights = readFlat(all);
      const range = (c: number) => [c * batchSize, Math.min(indices.length, (c + 1) * batchSize)];
      // Rounds of N chunks: the first of each round here, the others on the workers, so at most N chunks'
      // pixels are copied at a time (memory stays bounded on a large validation set).
      for (let first = 0; first < chunks; first += N) {
        const pending: Promise<void>[] = [];
        for (let c = first + 1; c < Math.min(chunks, first + N); c++) {
          const [from, to] = range(c);
          const pixels = new Uint8Array((to - from) * per);
          for (let k = from; k < to; k++)
            pixels.set(set.pixels.subarray(indices[k] * per, (indices[k] + 1) * per), (k - from) * per);
          const task: TrainScoreTask = { backend, arch, weights, pixels, norm, patchSize };
          pending.push(
            pool
              .run<TrainScoreResult>('train-score', task, [pixels.buffer])
              .then((r) => out.set(r.scores, from)),
          );
        }
        const [from, to] = range(first);
        const own = Array.from({ length: to - from }, (_, k) => indices[from + k]);
        out.set(scorePatches(model, set, own, norm, batchSize), from);
        await Promise.all(pending);
      }
      return out;
    },
    close: () => pool.close(),
  };
}
