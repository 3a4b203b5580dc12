/**
 * The patch-classifier training loop: a sampler draws each batch from the patch set, patches are
 * augmented, Adam minimises binary cross-entropy, per-sample losses go back to the sampler (CASED), the
 * sampler's refresh subset is re-scored every K steps, validation AUC is measured every `valEvery` steps,
 * the best model is kept in MODEL_DIR and the latest state in MODEL_DIR/checkpoint for `--resume`.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import { rocAuc } from '../eval/auc.ts';
import { backendInfo, initBackend } from '../models/backend.ts';
import type { ModelMeta } from '../models/model-io.ts';
import { saveModel } from '../models/model-io.ts';
import { type ArchSpec, newPatchClassifier, SMALL_ARCH } from '../models/patch-classifier.ts';
import { createSampler, restoreSampler, type SamplerKind } from '../patches/samplers/index.ts';
import type { PhotometricDraw } from '../stain/augment.ts';
import { canonicalJson } from '../store/runs.ts';
import { createRng } from '../util/rng.ts';
import { Adam } from './adam.ts';
import { type AugmentOptions, augmentPatch, DEFAULT_AUGMENT, drawAugment } from './augment.ts';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, type TrainingState } from './checkpoint.ts';
import { checkTrainWorkers, createDataParallel, MIN_SHARD } from './data-parallel.ts';
import type { PatchSet } from './dataset.ts';
import { bce, bceTensor, scorePatches } from './score.ts';

export interface TrainConfig {
  sampler: SamplerKind;
  steps: number;
  batchSize: number;
  learningRate: number;
  seed: number;
  positiveShare: number;
  curriculumSteps: number;
  floor: number;
  refreshEvery: number;
  refreshSize: number;
  valEvery: number;
  /** Cap on validation patches (all tumour patches are kept, normals subsampled). */
  maxValPatches: number;
  arch: ArchSpec;
  augment: AugmentOptions;
}

export const DEFAULT_TRAIN: Omit<TrainConfig, 'sampler' | 'steps'> = {
  batchSize: 32,
  learningRate: 1e-3,
  seed: 1,
  positiveShare: 0.5,
  curriculumSteps: 100,
  floor: 0.1,
  refreshEvery: 50,
  refreshSize: 256,
  valEvery: 50,
  maxValPatches: 2000,
  arch: SMALL_ARCH,
  augment: DEFAULT_AUGMENT,
};

export interface StepReport {
  step: number;
  loss: number;
  /** Present on validation steps. */
  valAuc?: number;
  positivesInBatch: number;
}

export interface TrainResult {
  modelDir: string;
  steps: number;
  best: { step: number; auc: number } | null;
  meta: ModelMeta;
  backend: string;
  resumedFrom: number | null;
}

/** Hash of what makes two trainings the same (steps excluded: --resume may extend a run). */
function trainConfigHash(config: TrainConfig, train: PatchSet, workers: number): string {
  const { steps: _steps, ...rest } = config;
  return createHash('sha256')
    .update(
      canonicalJson({
        ...rest,
        // The worker count changes the arithmetic (shard batch norm, summation order); 1 keeps old hashes.
        ...(workers > 1 ? { trainWorkers: workers } : {}),
        patches: train.refs.length,
        positives: train.labels.reduce((a, b) => a + b, 0),
      }),
    )
    .digest('hex');
}

/** Validation subset: every tumour patch, and normals by a seeded draw up to the cap. */
function validationIndices(set: PatchSet, cap: number, seed: number): Uint32Array {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < set.labels.length; i++) (set.labels[i] ? pos : neg).push(i);
  const rng = createRng(seed);
  for (let i = neg.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [neg[i], neg[j]] = [neg[j], neg[i]];
  }
  return Uint32Array.from([...pos, ...neg.slice(0, Math.max(0, cap - pos.length))].sort((a, b) => a - b));
}

export async function trainPatchClassifier(options: {
  train: PatchSet;
  val?: PatchSet;
  outDir: string;
  config: TrainConfig;
  resume: boolean;
  onStep?: (r: StepReport) => void;
  /** Called at each validation step and at the end: for the training log. */
  onLog?: (step: number, loss: number, metrics: Record<string, number>) => void;
  dataset?: string;
  /** Data-parallel worker threads (default 1: this thread only); see data-parallel.ts. */
  workers?: number;
}): Promise<TrainResult> {
  const { train, val, outDir, config } = options;
  if (train.refs.length === 0) throw new ConfigError('no training patches (is there tissue on the slides?)');
  const backend = await initBackend();
  const ckptDir = join(outDir, 'checkpoint');
  // Batch norm normalises each shard by its own statistics: shards under MIN_SHARD samples would make
  // them too noisy (a batch of 4 on 2 workers learnt visibly worse), so small batches use fewer workers.
  const workers = Math.max(
    1,
    Math.min(checkTrainWorkers(options.workers ?? 1), Math.floor(config.batchSize / MIN_SHARD)),
  );
  const hash = trainConfigHash(config, train, workers);
  let model: tf.LayersModel;
  let meta: ModelMeta;
  let state: TrainingState;
  let adamState = null;
  if (options.resume) {
    if (!hasCheckpoint(ckptDir)) throw new ConfigError(`--resume: no checkpoint in ${ckptDir}`);
    const c = await loadCheckpoint(ckptDir);
    if (c.state.configHash !== hash)
      throw new ConfigError(
        `--resume: the checkpoint in ${ckptDir} was made with other settings or another training set`,
      );
    model = c.model;
    meta = c.meta;
    state = c.state;
    adamState = c.adam;
  } else {
    if (hasCheckpoint(ckptDir))
      throw new ConfigError(
        `${outDir} already holds a training checkpoint: pass --resume to continue it, or choose another --out`,
      );
    const built = newPatchClassifier(config.arch, { mpp: train.mpp, seed: config.seed });
    model = built.model;
    meta = built.meta;
    if (meta.input.patchSize !== train.patchSize)
      throw new ConfigError(
        `patch size ${train.patchSize} does not match the model's receptive field ${meta.input.patchSize}`,
      );
    const sampler = createSampler(config.sampler, train.labels, {
      seed: config.seed,
      positiveShare: config.positiveShare,
      curriculumSteps: config.curriculumSteps,
      floor: config.floor,
      refreshEvery: config.refreshEvery,
      refreshSize: config.refreshSize,
    });
    state = {
      step: 0,
      sampler: sampler.state(),
      augmentRng: createRng(config.seed + 1).state(),
      best: null,
      configHash: hash,
    };
  }
  const resumedFrom = options.resume ? state.step : null;
  const sampler = restoreSampler(state.sampler, train.labels);
  const augmentRng = createRng(state.augmentRng);
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const adam = new Adam(vars, { learningRate: config.learningRate });
  if (adamState) adam.restore(adamState);
  const norm = meta.input.normalisation;
  const P = train.patchSize;
  const per = P * P * 3;
  const B = config.batchSize;
  const x = new Float32Array(B * per);
  const y = new Float32Array(B);
  const scratch = new Uint8Array(per);
  const raw = new Uint8Array(B * per);
  const valIdx = val?.refs.length ? validationIndices(val, config.maxValPatches, config.seed + 2) : null;
  const valLabels = valIdx && val ? Array.from(valIdx, (i) => val.labels[i]) : null;
  const valHasBoth = valLabels ? valLabels.includes(1) && valLabels.includes(0) : false;
  let best = state.best;
  let recentLoss = 0;
  let recentCount = 0;
  // Photometric augmentation actually drawn since the last log line (logged with the validation metrics).
  const drawn = { patches: 0, blurred: 0, jpeg: 0, jpegQualitySum: 0 };

  const snapshot = (step: number): TrainingState => ({
    step,
    sampler: sampler.state(),
    augmentRng: augmentRng.state(),
    best,
    configHash: hash,
    runId: state.runId,
  });
  const trainingMeta = (step: number, metrics: Record<string, number>): ModelMeta => ({
    ...meta,
    // The stain target the patches were normalised to: inference normalises each slide to it.
    ...(train.stain ? { stain: train.stain } : {}),
    training: {
      finishedAt: new Date().toISOString(),
      samples: step * B,
      steps: step,
      dataset: options.dataset,
      backend: backendInfo()?.detail ?? backend,
      metrics,
      config: { ...config, arch: config.arch.name, trainWorkers: workers } as unknown as Record<
        string,
        unknown
      >,
    },
  });

  const parallel =
    workers > 1 ? createDataParallel({ model, arch: config.arch, backend, patchSize: P, workers }) : null;
  // Refresh and validation scoring use every thread too (the same chunks, so the same scores).
  const score = (set: PatchSet, indices: ArrayLike<number>, n: typeof norm): Promise<Float32Array> =>
    parallel ? parallel.score(set, indices, n) : Promise.resolve(scorePatches(model, set, indices, n));
  try {
    for (let step = state.step + 1; step <= config.steps; step++) {
      const idx = sampler.draw(B);
      const photometric: (PhotometricDraw | undefined)[] = [];
      let perSample: Float32Array = new Float32Array(B);
      let loss: number;
      if (parallel) {
        // Draws in the same order as augmentPatch below; each thread augments its own shard.
        const draws = Array.from(idx, () => drawAugment(augmentRng, config.augment));
        for (let k = 0; k < B; k++) {
          raw.set(train.pixels.subarray(idx[k] * per, (idx[k] + 1) * per), k * per);
          y[k] = train.labels[idx[k]];
          photometric.push(draws[k].photometric);
        }
        const r = await parallel.step({ pixels: raw, draws, augment: config.augment, norm }, y);
        adam.applyGradients(r.grads);
        for (const g of r.grads) g.dispose();
        loss = r.loss;
        perSample = r.perSample;
      } else {
        for (let k = 0; k < B; k++) {
          const i = idx[k];
          photometric.push(
            augmentPatch(
              train.pixels.subarray(i * per, (i + 1) * per),
              P,
              augmentRng,
              config.augment,
              norm,
              x,
              k * per,
              scratch,
            ),
          );
          y[k] = train.labels[i];
        }
        const xt = tf.tensor4d(x, [B, P, P, 3]);
        const yt = tf.tensor1d(y);
        loss = adam.minimize(() => {
          const p = (model.apply(xt, { training: true }) as tf.Tensor).reshape([B]);
          const l = bceTensor(p, yt);
          perSample = l.dataSync() as Float32Array;
          return l.mean() as tf.Scalar;
        });
        xt.dispose();
        yt.dispose();
      }
      for (const d of photometric) {
        if (!d) continue;
        drawn.patches++;
        if (d.blurSigma > 0.2) drawn.blurred++;
        if (d.jpegQuality > 0) {
          drawn.jpeg++;
          drawn.jpegQualitySum += d.jpegQuality;
        }
      }
      sampler.update(idx, perSample);
      const refresh = sampler.refreshDue();
      if (refresh.length) {
        const scores = await score(train, refresh, norm);
        sampler.update(
          refresh,
          bce(
            scores,
            Array.from(refresh, (i) => train.labels[i]),
          ),
        );
      }
      recentLoss += loss;
      recentCount++;
      const report: StepReport = { step, loss, positivesInBatch: y.reduce((a, b) => a + b, 0) };
      if (step % config.valEvery === 0 || step === config.steps) {
        const metrics: Record<string, number> = { loss: recentLoss / recentCount };
        if (drawn.patches) {
          metrics.augBlurShare = drawn.blurred / drawn.patches;
          metrics.augJpegShare = drawn.jpeg / drawn.patches;
          if (drawn.jpeg) metrics.augJpegQuality = drawn.jpegQualitySum / drawn.jpeg;
          Object.assign(drawn, { patches: 0, blurred: 0, jpeg: 0, jpegQualitySum: 0 });
        }
        if (valIdx && valHasBoth && val) {
          const scores = await score(val, valIdx, norm);
          const auc = rocAuc(scores, valLabels!);
          metrics.valAuc = auc;
          report.valAuc = auc;
          if (!best || auc > best.auc) {
            best = { step, auc };
            await saveModel(outDir, model, trainingMeta(step, { valAuc: auc }));
          }
        } else {
          // No validation set: the latest model is the one kept.
          best = null;
          await saveModel(outDir, model, trainingMeta(step, {}));
        }
        options.onLog?.(step, recentLoss / recentCount, metrics);
        recentLoss = 0;
        recentCount = 0;
        await saveCheckpoint(ckptDir, model, trainingMeta(step, metrics), adam.state(), snapshot(step));
      }
      options.onStep?.(report);
    }
  } finally {
    await parallel?.close();
  }
  const finalMeta = trainingMeta(config.steps, best ? { valAuc: best.auc, bestStep: best.step } : {});
  adam.dispose();
  model.dispose();
  return { modelDir: outDir, steps: config.steps, best, meta: finalMeta, backend, resumedFrom };
}
