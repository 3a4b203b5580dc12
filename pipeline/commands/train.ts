/** `wsi train`: trains the patch classifier with a uniform, class-balanced or CASED sampler. */
import { resolve } from 'node:path';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { ARCHS } from '../models/patch-classifier.ts';
import { parseSamplerKind } from '../patches/samplers/index.ts';
import { createProgress } from '../progress.ts';
import { parseStainNormFlag } from '../stain/estimate.ts';
import { openStore } from '../store/index.ts';
import { STRONG_AUGMENT } from '../train/augment.ts';
import { resolveSlidePaths } from '../train/dataset.ts';
import { trainClassifier } from '../train/run-train.ts';
import { DEFAULT_TRAIN, type TrainConfig } from '../train/trainer.ts';
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
  --augment               strong augmentation: H&E jitter σ 0.2, brightness, contrast, blur, JPEG quality
  --stain-norm M          none (default), reinhard, macenko or vahadane: every slide mapped to the training
                          slides' pooled stain; the target is saved with the model and used by wsi infer/embed
  --train-workers N       data-parallel threads, each takes a share (>= 8) of every batch (default: cores)
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
        augment: { type: 'boolean' },
        'stain-norm': { type: 'string' },
        'train-workers': { type: 'string' },
        quiet: { type: 'boolean' },
        'annotations-from-db': { type: 'boolean' },
      },
      false,
    );
    const dbPath = stringFlag(p, 'db', true);
    const fromDb = boolFlag(p, 'annotations-from-db');
    const annotations = fromDb ? stringFlag(p, 'annotations') : stringFlag(p, 'annotations', true);
    const trainPaths = await resolveSlidePaths(stringFlag(p, 'slides', true));
    const valSpec = stringFlag(p, 'val-slides');
    const valPaths = valSpec ? await resolveSlidePaths(valSpec) : [];
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
        : boolFlag(p, 'augment')
          ? STRONG_AUGMENT
          : DEFAULT_TRAIN.augment,
    };
    const stainNorm = parseStainNormFlag(stringFlag(p, 'stain-norm'));
    if (boolFlag(p, 'augment') && boolFlag(p, 'no-augment'))
      throw new ConfigError('--augment and --no-augment contradict each other');
    const quiet = boolFlag(p, 'quiet');
    const store = openStore(dbPath);
    try {
      const r = await trainClassifier(store, {
        trainPaths,
        valPaths,
        annotations,
        outDir,
        mpp,
        config,
        resume: boolFlag(p, 'resume'),
        annotationsFromDb: fromDb,
        stainNorm,
        trainWorkers: numberFlag(p, 'train-workers', { integer: true, min: 1, max: 64 }),
        progress: (o) => createProgress({ ...o, quiet }),
        log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
      });
      process.stdout.write(
        `${outDir}: model ${r.modelId} (run ${r.runId}), ${config.steps} steps on ${r.backend}${r.best ? `, best validation AUC ${r.best.auc.toFixed(4)} at step ${r.best.step}` : ''}\n`,
      );
      return 0;
    } finally {
      store.close();
    }
  },
};
