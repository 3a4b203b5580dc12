/** `wsi train`: trains the patch classifier with a uniform, class-balanced or CASED sampler. */
import { resolve } from 'node:path';
import { drawnTrainingTruth, mergeDrawnTruth } from '../annotations/training-from-store.ts';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { ARCHS, archGeometry } from '../models/patch-classifier.ts';
import { parseSamplerKind } from '../patches/samplers/index.ts';
import { createProgress } from '../progress.ts';
import { openSlide } from '../slide/index.ts';
import { beginRun, failRun, finishRun, openStore, registerModel, upsertSlide } from '../store/index.ts';
import { writeTrainingLog } from '../store/training-queries.ts';
import { buildPatchSet, resolveSlidePaths, slideSources } from '../train/dataset.ts';
import { DEFAULT_TRAIN, type TrainConfig, trainPatchClassifier } from '../train/trainer.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi train --db FILE --slides DIR|LIST --annotations DIR --sampler uniform|balanced|cased --steps N
                 --out MODEL_DIR [--val-slides DIR|LIST] [--resume] [--annotations-from-db] [options]

Trains the fully convolutional patch classifier on the grid \`wsi patches\` cuts (tissue >= 50%, at --mpp
µm/px, patch = the model's receptive field), labelled as it labels them (tumour when the central 32x32 px
touch tumour) from <annotations>/<slide>.xml (ASAP) or .geojson; no annotation file = normal slide.
The best model by validation patch AUC is kept in MODEL_DIR (the latest model without --val-slides),
the latest state in MODEL_DIR/checkpoint; --resume continues from it exactly (same draws, same weights).
Training-log rows go to the store's training_log; the model is registered in its models table.

options:
  --batch 32  --lr 0.001  --seed 1  --mpp 1  --arch fcn-small
  --positive-share 0.5    tumour share of each batch (balanced, cased)
  --curriculum 100        CASED: steps from class-balanced to loss-driven draws
  --floor 0.1             CASED: share of each class's probability spread uniformly (no patch at 0)
  --refresh-every 50 --refresh-size 256   CASED: re-score this many patches every K steps
  --val-every 50          validation AUC (and checkpoint) every K steps
  --no-augment            no flips/rotations/H&E jitter
  --annotations-from-db   also use the annotations drawn in the viewer (tumour; normal = not tumour even
                          inside a file's outline; exclude = patches left out); --annotations becomes optional
`;

export const command: Command = {
  name: 'train',
  summary: 'train the patch classifier (uniform, balanced or CASED sampling) with validation AUC and resume',
  usage,
  async run(argv) {
    const p = parseFlags(
      argv,
      {
        db: { type: 'string' },
        slides: { type: 'string' },
        'val-slides': { type: 'string' },
        annotations: { type: 'string' },
        sampler: { type: 'string' },
        steps: { type: 'string' },
        out: { type: 'string' },
        resume: { type: 'boolean' },
        batch: { type: 'string' },
        lr: { type: 'string' },
        seed: { type: 'string' },
        mpp: { type: 'string' },
        arch: { type: 'string' },
        'positive-share': { type: 'string' },
        curriculum: { type: 'string' },
        floor: { type: 'string' },
        'refresh-every': { type: 'string' },
        'refresh-size': { type: 'string' },
        'val-every': { type: 'string' },
        'no-augment': { type: 'boolean' },
        quiet: { type: 'boolean' },
        'annotations-from-db': { type: 'boolean' },
      },
      false,
    );
    const dbPath = stringFlag(p, 'db', true);
    const fromDb = boolFlag(p, 'annotations-from-db');
    const annotations = fromDb ? stringFlag(p, 'annotations') : stringFlag(p, 'annotations', true);
    const trainPaths = resolveSlidePaths(stringFlag(p, 'slides', true));
    const valSpec = stringFlag(p, 'val-slides');
    const valPaths = valSpec ? resolveSlidePaths(valSpec) : [];
    const outDir = resolve(stringFlag(p, 'out', true));
    const archName = stringFlag(p, 'arch') ?? DEFAULT_TRAIN.arch.name;
    const arch = ARCHS[archName];
    if (!arch)
      throw new ConfigError(`--arch must be one of ${Object.keys(ARCHS).join(', ')}, got '${archName}'`);
    const mpp = numberFlag(p, 'mpp', { default: 1, min: 0.05, max: 64 });
    const config: TrainConfig = {
      ...DEFAULT_TRAIN,
      sampler: parseSamplerKind(stringFlag(p, 'sampler', true)),
      steps: numberFlag(p, 'steps', { required: true, integer: true, min: 1 }),
      batchSize: numberFlag(p, 'batch', {
        default: DEFAULT_TRAIN.batchSize,
        integer: true,
        min: 2,
        max: 4096,
      }),
      learningRate: numberFlag(p, 'lr', { default: DEFAULT_TRAIN.learningRate, min: 1e-8, max: 1 }),
      seed: numberFlag(p, 'seed', { default: DEFAULT_TRAIN.seed, integer: true }),
      positiveShare: numberFlag(p, 'positive-share', {
        default: DEFAULT_TRAIN.positiveShare,
        min: 0.01,
        max: 0.99,
      }),
      curriculumSteps: numberFlag(p, 'curriculum', {
        default: DEFAULT_TRAIN.curriculumSteps,
        integer: true,
        min: 0,
      }),
      floor: numberFlag(p, 'floor', { default: DEFAULT_TRAIN.floor, min: 0.001, max: 1 }),
      refreshEvery: numberFlag(p, 'refresh-every', {
        default: DEFAULT_TRAIN.refreshEvery,
        integer: true,
        min: 0,
      }),
      refreshSize: numberFlag(p, 'refresh-size', {
        default: DEFAULT_TRAIN.refreshSize,
        integer: true,
        min: 1,
      }),
      valEvery: numberFlag(p, 'val-every', { default: DEFAULT_TRAIN.valEvery, integer: true, min: 1 }),
      arch,
      augment: boolFlag(p, 'no-augment')
        ? { geometric: false, stainScale: 0, stainShift: 0 }
        : DEFAULT_TRAIN.augment,
    };
    const quiet = boolFlag(p, 'quiet');
    let trainSources = slideSources(trainPaths, annotations);
    let valSources = valPaths.length ? slideSources(valPaths, annotations) : [];
    const patchSize = archGeometry(arch).receptiveField;

    const store = openStore(dbPath);
    let runId: number | undefined;
    try {
      const slideIds = new Map<string, string>();
      for (const path of [...trainPaths, ...valPaths]) {
        const slide = await openSlide(path);
        try {
          slideIds.set(path, upsertSlide(store, slide));
        } finally {
          await slide.close();
        }
      }
      // --annotations-from-db: drawings from the viewer join the file annotations (annotations/training-from-store.ts).
      const drawn: string[] = [];
      if (fromDb) {
        const withDrawn = (s: (typeof trainSources)[number]) => {
          const d = drawnTrainingTruth(store, slideIds.get(s.path) as string);
          drawn.push(d.digest);
          return { ...s, ...mergeDrawnTruth(s.truth, d) };
        };
        trainSources = trainSources.map(withDrawn);
        valSources = valSources.map(withDrawn);
      }
      const loading = createProgress({
        total: trainSources.length + valSources.length,
        label: 'patches',
        unit: 'slides',
        quiet,
      });
      const train = await buildPatchSet(trainSources, {
        mpp,
        patchSize,
        onSlide: (_d, n) => loading.tick(1, n),
      });
      const val = valSources.length
        ? await buildPatchSet(valSources, { mpp, patchSize, onSlide: (_d, n) => loading.tick(1, n) })
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
        out: outDir,
        slides: trainSources.map((s) => s.name),
        valSlides: valSources.map((s) => s.name),
        ...(fromDb ? { drawnAnnotations: drawn } : {}),
      });
      runId = run.runId;
      const progress = createProgress({
        total: config.steps,
        label: `train ${config.sampler}`,
        unit: 'steps',
        quiet,
      });
      let lastAuc = '';
      let ema = Number.NaN;
      let firstStep = true;
      const result = await trainPatchClassifier({
        train,
        val,
        outDir,
        config,
        resume: boolFlag(p, 'resume'),
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
      process.stdout.write(
        `${outDir}: model ${modelId} (run ${run.runId}), ${config.steps} steps on ${result.backend}${result.best ? `, best validation AUC ${result.best.auc.toFixed(4)} at step ${result.best.step}` : ''}\n`,
      );
      return 0;
    } catch (err) {
      if (runId !== undefined) failRun(store, runId, err instanceof Error ? err.message : String(err));
      throw err;
    } finally {
      store.close();
    }
  },
};
