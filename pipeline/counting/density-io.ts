/**
 * Density models on disk: the tfjs directory format of pipeline/models/model-io.ts with kind 'density';
 * the sidecar's training config holds σ and the target scale that counting needs.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { loadModel, type ModelMeta, saveModel } from '../models/model-io.ts';
import { DEFAULT_NORMALISATION } from '../models/normalise.ts';
import type { DensityModelInfo } from './density-counter.ts';
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
  },
): Promise<void> {
  const meta: ModelMeta = {
    format: 1,
    name: path.basename(path.resolve(dir)),
    kind: 'density',
    // Inputs are standardised per image (density-model.ts), not by fixed mean/std; the field is required.
    input: { mpp: null, patchSize: config.crop, normalisation: DEFAULT_NORMALISATION },
    geometry: { receptiveField: 1 + 2 * (config.arch.kernel - 1) * 7, stride: 1 },
    training: {
      finishedAt: new Date().toISOString(),
      samples: training.samples,
      steps: config.steps,
      dataset: training.dataset,
      backend: training.backend,
      metrics: training.metrics,
      config: { ...config, perImageStandardisation: true, ...training.extra } as unknown as Record<
        string,
        unknown
      >,
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
  return { model, meta, scale: Number(cfg.scale), sigma: Number(cfg.sigma) };
}
