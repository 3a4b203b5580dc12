/**
 * Training the patch classifier as a run: register the slides, build the labelled patch sets, train
 * (resuming from the checkpoint when asked), log the curve to training_log, register the model. Called by
 * `wsi train` and by the CAMELYON study; the caller owns the store and the progress bars.
 */
import { drawnTrainingTruth, mergeDrawnTruth } from '../annotations/training-from-store.ts';
import { archGeometry } from '../models/patch-classifier.ts';
import { attachOodReference } from '../ood/model.ts';
import type { Progress, ProgressOptions } from '../progress.ts';
import { openSlide } from '../slide/index.ts';
import type { StainMethod } from '../stain/types.ts';
import type { Store } from '../store/db.ts';
import { registerModel } from '../store/models.ts';
import { beginRun, failRun, finishRun } from '../store/runs.ts';
import { upsertSlide } from '../store/slides.ts';
import { writeTrainingLog } from '../store/training-queries.ts';
import { defaultTrainWorkers } from './data-parallel.ts';
import { buildPatchSet, slideSources } from './dataset.ts';
import { type TrainConfig, trainPatchClassifier } from './trainer.ts';

export interface TrainClassifierOptions {
  trainPaths: string[];
  valPaths: string[];
  annotations: string | undefined;
  outDir: string;
  mpp: number;
  config: TrainConfig;
  resume?: boolean;
  /** Also use the annotations drawn in the viewer (annotations/training-from-store.ts). */
  annotationsFromDb?: boolean;
  /** Map every slide to the training slides' pooled stain; the target is saved with the model. */
  stainNorm?: StainMethod;
  /** Called before the slow out-of-distribution measurement of the training slides. */
  log?: (line: string) => void;
  /** Progress bars (default: none). */
  progress?: (o: ProgressOptions) => Progress;
  /** Data-parallel training threads (default: the available cores; data-parallel.ts). */
  trainWorkers?: number;
}

const silent: Progress = { tick() {}, setTotal() {}, done() {} };

export async function trainClassifier(store: Store, o: TrainClassifierOptions) {
  const { config, mpp, outDir } = o;
  const arch = config.arch;
  const bar = (p: ProgressOptions) => o.progress?.(p) ?? silent;
  let trainSources = slideSources(o.trainPaths, o.annotations);
  let valSources = o.valPaths.length ? slideSources(o.valPaths, o.annotations) : [];
  const patchSize = archGeometry(arch).receptiveField;
  let runId: number | undefined;
  try {
    const slideIds = new Map<string, string>();
    for (const path of [...o.trainPaths, ...o.valPaths]) {
      const slide = await openSlide(path);
      try {
        slideIds.set(path, upsertSlide(store, slide));
      } finally {
        await slide.close();
      }
    }
    // Drawings from the viewer join the file annotations.
    const drawn: string[] = [];
    if (o.annotationsFromDb) {
      const withDrawn = (s: (typeof trainSources)[number]) => {
        const d = drawnTrainingTruth(store, slideIds.get(s.path) as string);
        drawn.push(d.digest);
        return { ...s, ...mergeDrawnTruth(s.truth, d) };
      };
      trainSources = trainSources.map(withDrawn);
      valSources = valSources.map(withDrawn);
    }
    const loading = bar({
      total: trainSources.length + valSources.length,
      label: 'patches',
      unit: 'slides',
    });
    const train = await buildPatchSet(trainSources, {
      mpp,
      patchSize,
      onSlide: (_d, n) => loading.tick(1, n),
      stain: o.stainNorm ? { method: o.stainNorm } : undefined,
    });
    const val = valSources.length
      ? await buildPatchSet(valSources, {
          mpp,
          patchSize,
          onSlide: (_d, n) => loading.tick(1, n),
          stain: train.stain, // validation mapped to the training target
        })
      : undefined;
    const positives = train.labels.reduce((a, b) => a + b, 0);
    loading.done(
      `${train.refs.length} training patches (${positives} tumour)${val ? `, ${val.refs.length} validation` : ''}`,
    );
    const { steps: _steps, ...runConfig } = config;
    const run = beginRun(store, 'train', {
      ...runConfig,
      arch: arch.name,
      mpp,
      stainNorm: o.stainNorm ?? 'none',
      out: outDir,
      slides: trainSources.map((s) => s.name),
      valSlides: valSources.map((s) => s.name),
      ...(o.annotationsFromDb ? { drawnAnnotations: drawn } : {}),
    });
    runId = run.runId;
    const progress = bar({
      total: config.steps,
      label: `train ${config.sampler}`,
      unit: 'steps',
    });
    let lastAuc = '';
    let ema = Number.NaN;
    let firstStep = true;
    const result = await trainPatchClassifier({
      train,
      val,
      outDir,
      config,
      resume: o.resume ?? false,
      workers: o.trainWorkers ?? defaultTrainWorkers(),
      dataset: `${trainSources.length} slides, ${train.refs.length} patches (${positives} tumour)`,
      onStep: (r) => {
        // A resumed run starts past step 1: count the steps already done once.
        if (firstStep) progress.tick(r.step - 1);
        firstStep = false;
        ema = Number.isNaN(ema) ? r.loss : 0.9 * ema + 0.1 * r.loss;
        if (r.valAuc !== undefined) lastAuc = ` auc ${r.valAuc.toFixed(3)}`;
        progress.tick(1, `loss ${ema.toFixed(3)}${lastAuc}`);
      },
      onLog: (step, loss, metrics) => writeTrainingLog(store, run.runId, step, loss, metrics),
    });
    progress.done(
      result.best ? `best validation AUC ${result.best.auc.toFixed(4)} at step ${result.best.step}` : '',
    );
    // Out-of-distribution reference: the training slides' stain and nucleus size, saved with the model.
    o.log?.('measuring training slides for out-of-distribution checks');
    await attachOodReference(outDir, o.trainPaths);
    const modelId = registerModel(store, {
      name: `${arch.name}-${config.sampler}`,
      kind: 'patch-classifier',
      path: outDir,
      config: { ...runConfig, arch: arch.name, steps: config.steps, mpp, runId: run.runId },
      metrics: result.best ? { valAuc: result.best.auc, bestStep: result.best.step } : {},
    });
    finishRun(store, run.runId, {
      steps: config.steps,
      modelId,
      ...(result.best ? { valAuc: result.best.auc } : {}),
    });
    return { runId: run.runId, modelId, backend: result.backend, best: result.best };
  } catch (err) {
    if (runId !== undefined) failRun(store, runId, err instanceof Error ? err.message : String(err));
    throw err;
  }
}
