/**
 * Training the density counter: random crops with dihedral augmentation (flips, transposes), Gaussian-dot
 * targets scaled by `scale` (small densities train badly in float32 MSE), Adam on the pixel-wise squared
 * error of the density. Inputs are normalised by the training set's per-channel statistics, and the
 * count is calibrated on the training images (count = gain × Σ density + offset per pixel, least
 * squares): a model trained on 64² crops carries a bias of a few cells per whole image (crop borders
 * see zero padding that whole images do not), the same on training and held-out images.
 * Validation MAE = mean |count − dots| over whole validation images, with that calibration.
 */
import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '../errors.ts';
import type { Normalisation } from '../models/normalise.ts';
import { createRng } from '../util/rng.ts';
import {
  type CountCalibration,
  calibratedCount,
  type DensityModelInfo,
  predictDensity,
} from './density-counter.ts';
import {
  buildDensityModel,
  DEFAULT_DENSITY_ARCH,
  type DensityArch,
  datasetNormalisation,
  densityInput,
} from './density-model.ts';
import { type Dot, densityMap } from './density-targets.ts';
import type { PixelImage } from './types.ts';

export interface DensityTrainConfig {
  sigma: number;
  scale: number;
  crop: number;
  batch: number;
  steps: number;
  learningRate: number;
  seed: number;
  arch: DensityArch;
  /**
   * Weight of the count term: squared error of each crop's count (Σ density), in cells. Pixel-wise MSE
   * alone barely sees a small bias spread over many pixels, yet that bias is what the count integrates.
   */
  countWeight: number;
  /** Validate every this many steps (and at the end). */
  validateEvery: number;
  /** 'dataset': normalise by the training set's channel statistics; 'image': standardise each image. */
  normalisation: 'dataset' | 'image';
  /** Fit the count calibration on the training images. */
  calibrate: boolean;
}

export const DEFAULT_DENSITY_TRAIN: DensityTrainConfig = {
  sigma: 2,
  scale: 100,
  crop: 64,
  batch: 8,
  steps: 2500,
  learningRate: 2e-3,
  seed: 1,
  arch: DEFAULT_DENSITY_ARCH,
  countWeight: 0.01,
  validateEvery: 500,
  normalisation: 'dataset',
  calibrate: true,
};

export interface AnnotatedPixels {
  image: PixelImage;
  dots: Dot[];
}

export interface TrainProgress {
  step: number;
  loss: number;
  valMae?: number;
}

export interface DensityTrainResult {
  model: tf.LayersModel;
  /** With the calibration. */
  valMae: number;
  trainMae: number;
  /** Without it (the raw integral of the density). */
  valMaeRaw: number;
  normalisation: Normalisation | undefined;
  calibration: CountCalibration | undefined;
  history: TrainProgress[];
}

interface Prepared {
  x: Float32Array;
  y: Float32Array;
  w: number;
  h: number;
}

function validateConfig(c: DensityTrainConfig): void {
  if (!(c.sigma > 0)) throw new ConfigError(`--sigma must be > 0, got ${c.sigma}`);
  if (!(c.crop >= 8 && c.crop % 4 === 0))
    throw new ConfigError(`--crop must be a multiple of 4 ≥ 8, got ${c.crop}`);
  if (!(Number.isInteger(c.steps) && c.steps >= 1))
    throw new ConfigError(`--steps must be a positive integer`);
  if (!(Number.isInteger(c.batch) && c.batch >= 1))
    throw new ConfigError(`--batch must be a positive integer`);
}

/**
 * Least-squares fit of dots = gain × raw + offset over images (offset spread per pixel by the mean
 * image area). Undefined when it cannot be fitted sensibly (fewer than 3 images, no spread in the raw
 * counts, or a non-positive gain), so the raw integral is used.
 */
export function fitCountCalibration(
  samples: readonly { raw: number; truth: number; pixels: number }[],
): CountCalibration | undefined {
  const n = samples.length;
  if (n < 3) return undefined;
  const mx = samples.reduce((s, v) => s + v.raw, 0) / n;
  const my = samples.reduce((s, v) => s + v.truth, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (const v of samples) {
    sxx += (v.raw - mx) ** 2;
    sxy += (v.raw - mx) * (v.truth - my);
  }
  if (!(sxx > 1e-9)) return undefined;
  const gain = sxy / sxx;
  if (!(gain > 0)) return undefined;
  const meanPixels = samples.reduce((s, v) => s + v.pixels, 0) / n;
  return { gain, offsetPerPixel: (my - gain * mx) / meanPixels };
}

function rawSamples(m: DensityModelInfo, items: readonly AnnotatedPixels[]) {
  return items.map((it) => {
    const d = predictDensity(m, it.image);
    let raw = 0;
    for (let i = 0; i < d.length; i++) raw += d[i];
    return { raw, truth: it.dots.length, pixels: it.image.width * it.image.height };
  });
}

function maeOf(samples: ReturnType<typeof rawSamples>, c: CountCalibration | undefined): number {
  if (samples.length === 0) return Number.NaN;
  let err = 0;
  for (const s of samples) err += Math.abs(Math.max(0, calibratedCount(s.raw, s.pixels, c)) - s.truth);
  return err / samples.length;
}

export async function trainDensity(
  train: readonly AnnotatedPixels[],
  val: readonly AnnotatedPixels[],
  config: Partial<DensityTrainConfig> = {},
  onProgress?: (p: TrainProgress) => void,
): Promise<DensityTrainResult> {
  const c = { ...DEFAULT_DENSITY_TRAIN, ...config };
  validateConfig(c);
  if (train.length === 0) throw new ConfigError('no training images');
  const rng = createRng(c.seed);
  const normalisation =
    c.normalisation === 'dataset' ? datasetNormalisation(train.map((t) => t.image)) : undefined;
  const prepared: Prepared[] = train.map(({ image, dots }) => {
    if (image.width < c.crop || image.height < c.crop) {
      throw new ConfigError(`training images must be at least --crop (${c.crop}) pixels on each side`);
    }
    const y = densityMap(dots, image.width, image.height, c.sigma);
    for (let i = 0; i < y.length; i++) y[i] *= c.scale;
    return {
      x: densityInput(image, normalisation),
      y,
      w: image.width,
      h: image.height,
    };
  });
  const model = buildDensityModel(c.arch, c.seed);
  const optimizer = tf.train.adam(c.learningRate);
  const info: DensityModelInfo = { model, scale: c.scale, sigma: c.sigma, normalisation };
  /** Refits the calibration on the training images and returns the validation MAE with it. */
  const evaluate = () => {
    const trainSamples = rawSamples(info, train);
    info.calibration = c.calibrate ? fitCountCalibration(trainSamples) : undefined;
    const valSamples = rawSamples(info, val);
    return {
      valMae: maeOf(valSamples, info.calibration),
      valMaeRaw: maeOf(valSamples, undefined),
      trainMae: maeOf(trainSamples, info.calibration),
    };
  };
  const S = c.crop;
  const xs = new Float32Array(c.batch * S * S * 3);
  const ys = new Float32Array(c.batch * S * S);
  const history: TrainProgress[] = [];
  for (let step = 1; step <= c.steps; step++) {
    // Learning rate drops tenfold for the last quarter of training.
    // (tfjs types mark learningRate protected, but the optimizer reads the field on every step.)
    if (step === Math.floor(c.steps * 0.75)) {
      (optimizer as unknown as { learningRate: number }).learningRate = c.learningRate / 10;
    }
    for (let b = 0; b < c.batch; b++) {
      const p = prepared[rng.int(prepared.length)];
      const ox = rng.int(p.w - S + 1);
      const oy = rng.int(p.h - S + 1);
      const flipX = rng.next() < 0.5;
      const flipY = rng.next() < 0.5;
      const transpose = rng.next() < 0.5;
      for (let y = 0; y < S; y++) {
        for (let x = 0; x < S; x++) {
          let sx = transpose ? y : x;
          let sy = transpose ? x : y;
          if (flipX) sx = S - 1 - sx;
          if (flipY) sy = S - 1 - sy;
          const src = (oy + sy) * p.w + ox + sx;
          const dst = b * S * S + y * S + x;
          xs[dst * 3] = p.x[src * 3];
          xs[dst * 3 + 1] = p.x[src * 3 + 1];
          xs[dst * 3 + 2] = p.x[src * 3 + 2];
          ys[dst] = p.y[src];
        }
      }
    }
    const xb = tf.tensor4d(xs, [c.batch, S, S, 3]);
    const yb = tf.tensor4d(ys, [c.batch, S, S, 1]);
    const lossT = optimizer.minimize(() => {
      const pred = model.predict(xb) as tf.Tensor4D;
      const pixel = tf.losses.meanSquaredError(yb, pred);
      const countErr = tf.sub(tf.sum(pred, [1, 2, 3]), tf.sum(yb, [1, 2, 3])).div(c.scale);
      return tf.add(pixel, tf.mul(c.countWeight, tf.mean(tf.square(countErr)))) as tf.Scalar;
    }, true);
    xb.dispose();
    yb.dispose();
    const loss = lossT ? (await lossT.data())[0] : Number.NaN;
    lossT?.dispose();
    const entry: TrainProgress = { step, loss };
    if (val.length > 0 && step % c.validateEvery === 0 && step !== c.steps) {
      entry.valMae = evaluate().valMae;
    }
    history.push(entry);
    onProgress?.(entry);
  }
  optimizer.dispose();
  const final = evaluate();
  const last = history.at(-1);
  if (last && val.length > 0) last.valMae = final.valMae;
  return { model, ...final, normalisation, calibration: info.calibration, history };
}
