/**
 * Density models on disk: the tfjs directory format of pipeline/models/model-io.ts with kind 'density';
 * the sidecar's training config holds σ and the target scale that counting needs.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { loadModel, type ModelMeta, saveModel } from '../models/model-io.ts';
import { checkNormalisation, DEFAULT_NORMALISATION, type Normalisation } from '../models/normalise.ts';
import type { CountCalibration, DensityModelInfo } from './density-counter.ts';
import type { DensityTrainConfig } from './density-train.ts';

/** The shipped model trained on VGG cells: the default for `--method density`. */
export const DEFAULT_DENSITY_MODEL = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../models/density-vgg',
);

export async function saveDensityModel(
  dir: string,
  model: tf.LayersModel,
  config: DensityTrainConfig,
  training: {
    samples: number;
    dataset: string;
    backend: string;
    metrics: Record<string, number>;
    extra?: Record<string, unknown>;
    /** The training set's statistics; undefined: inputs standardised per image. */
    normalisation?: Normalisation;
    calibration?: CountCalibration;
  },
): Promise<void> {
  const perImage = training.normalisation === undefined;
  const meta: ModelMeta = {
    format: 1,
    name: path.basename(path.resolve(dir)),
    kind: 'density',
    // Per-image standardisation has no fixed mean/std, but the field is required: the flag in the config says which.
    input: {
      mpp: null,
      patchSize: config.crop,
      normalisation: training.normalisation ?? DEFAULT_NORMALISATION,
    },
    geometry: { receptiveField: 1 + 2 * (config.arch.kernel - 1) * 7, stride: 1 },
    training: {
      finishedAt: new Date().toISOString(),
      samples: training.samples,
      steps: config.steps,
      dataset: training.dataset,
      backend: training.backend,
      metrics: training.metrics,
      config: {
        ...config,
        perImageStandardisation: perImage,
        ...(training.calibration ? { countCalibration: training.calibration } : {}),
        ...training.extra,
      } as unknown as Record<string, unknown>,
    },
    createdAt: new Date().toISOString(),
  };
  await saveModel(dir, model, meta);
}

export async function loadDensityModel(dir: string): Promise<DensityModelInfo & { meta: ModelMeta }> {
  const { model, meta } = await loadModel(dir);
  if (meta.kind !== 'density')
    throw new ModelError(`${dir} is a '${meta.kind}' model, not a density counter`);
  const cfg = meta.training?.config as Partial<DensityTrainConfig> | undefined;
  if (!cfg || !(Number(cfg.scale) > 0) || !(Number(cfg.sigma) > 0)) {
    throw new ModelError(`${dir}: the model sidecar lacks the training sigma/scale (untrained model?)`);
  }
  const info: DensityModelInfo & { meta: ModelMeta } = {
    model,
    meta,
    scale: Number(cfg.scale),
    sigma: Number(cfg.sigma),
  };
  // Models saved before fixed normalisation have no flag: they standardised per image.
  const raw = cfg as Record<string, unknown>;
  if (raw.perImageStandardisation === false)
    info.normalisation = checkNormalisation(meta.input.normalisation);
  const cal = raw.countCalibration as Partial<CountCalibration> | undefined;
  if (cal !== undefined) {
    if (!(Number(cal.gain) > 0) || !Number.isFinite(Number(cal.offsetPerPixel))) {
      throw new ModelError(`${dir}: countCalibration must be { gain > 0, offsetPerPixel }`);
    }
    info.calibration = { gain: Number(cal.gain), offsetPerPixel: Number(cal.offsetPerPixel) };
  }
  return info;
}
