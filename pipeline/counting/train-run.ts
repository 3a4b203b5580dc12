/**
 * `wsi count train`: draw N training images from the annotated set (all but the last `holdout`, in name
 * order, so a fixed validation set: VGG 071–100 with --holdout 30), train the density counter, report
 * validation MAE, save the model with its config and metrics.
 */
import { ConfigError } from '../errors.ts';
import { initBackend } from '../models/backend.ts';
import { createProgress } from '../progress.ts';
import { createRng, sample } from '../util/rng.ts';
import { type AnnotatedImage, listAnnotated, loadAnnotated } from './dataset.ts';
import { saveDensityModel } from './density-io.ts';
import { DEFAULT_DENSITY_TRAIN, type DensityTrainConfig, trainDensity } from './density-train.ts';

export interface TrainRunOptions {
  images: string;
  annotations?: string;
  kind: 'dots' | 'labels';
  out: string;
  n: number;
  holdout: number;
  config: Partial<DensityTrainConfig>;
  quiet?: boolean;
}

export interface TrainRunResult {
  train: string[];
  val: string[];
  valMae: number;
  trainMae: number;
  seconds: number;
}

export function splitDraw(
  items: readonly AnnotatedImage[],
  n: number,
  holdout: number,
  seed: number,
): { train: AnnotatedImage[]; val: AnnotatedImage[] } {
  if (holdout < 0 || holdout >= items.length) {
    throw new ConfigError(`--holdout must leave training images: ${holdout} of ${items.length}`);
  }
  const pool = items.slice(0, items.length - holdout);
  if (n < 1 || n > pool.length) throw new ConfigError(`--n must be from 1 to ${pool.length}, got ${n}`);
  return { train: sample(pool, n, createRng(seed ^ 0x5eed)), val: items.slice(items.length - holdout) };
}

export async function runDensityTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const config = { ...DEFAULT_DENSITY_TRAIN, ...o.config };
  const items = listAnnotated(o.images, o.annotations, o.kind);
  const { train, val } = splitDraw(items, o.n, o.holdout, config.seed);
  const backend = await initBackend({ log: o.quiet ? () => {} : undefined });
  const trainData = await Promise.all(train.map(loadAnnotated));
  const valData = await Promise.all(val.map(loadAnnotated));
  const progress = createProgress({
    total: config.steps,
    label: 'train density',
    unit: 'steps',
    quiet: o.quiet,
  });
  const t0 = performance.now();
  let lastVal = '';
  const result = await trainDensity(trainData, valData, config, (p) => {
    if (p.valMae !== undefined) lastVal = ` val MAE ${p.valMae.toFixed(2)}`;
    progress.tick(1, `loss ${p.loss.toFixed(4)}${lastVal}`);
  });
  const seconds = (performance.now() - t0) / 1000;
  progress.done(`val MAE ${result.valMae.toFixed(2)}, train MAE ${result.trainMae.toFixed(2)}`);
  await saveDensityModel(o.out, result.model, config, {
    samples: config.steps * config.batch,
    dataset: o.images,
    backend,
    metrics: {
      valMae: result.valMae,
      valMaeUncalibrated: result.valMaeRaw,
      trainMae: result.trainMae,
      n: o.n,
      valImages: val.length,
      seconds,
    },
    normalisation: result.normalisation,
    calibration: result.calibration,
    extra: { trainImages: train.map((t) => t.name), valImages: val.map((v) => v.name), holdout: o.holdout },
  });
  result.model.dispose();
  return {
    train: train.map((t) => t.name),
    val: val.map((v) => v.name),
    valMae: result.valMae,
    trainMae: result.trainMae,
    seconds,
  };
}
