/**
 * Counting with a trained density model: count = integral of the predicted density; cell locations =
 * local maxima of the density at least `minDistance` apart and above a fraction of a single cell's peak.
 */
import * as tf from '@tensorflow/tfjs';
import type { Normalisation } from '../models/normalise.ts';
import { densityInput } from './density-model.ts';
import { findMarkers } from './markers.ts';
import type { CountResult, PixelImage } from './types.ts';

export interface DensityModelInfo {
  model: tf.LayersModel;
  /** Targets were multiplied by this before training; predictions are divided by it. */
  scale: number;
  /** σ of the Gaussian targets, pixels. */
  sigma: number;
  /** Input normalisation (training-set statistics); absent: per-image standardisation (older models). */
  normalisation?: Normalisation;
  /** Count calibration fitted on the training images; absent: the raw integral. */
  calibration?: CountCalibration;
}

/**
 * count = gain × Σ density + offsetPerPixel × pixels. Fitted by least squares on the training images
 * (density-train.ts). The offset is per pixel, not per image, so counts of tiles add up to the count
 * of the whole.
 */
export interface CountCalibration {
  gain: number;
  offsetPerPixel: number;
}

export function calibratedCount(raw: number, pixels: number, c: CountCalibration | undefined): number {
  return c ? c.gain * raw + c.offsetPerPixel * pixels : raw;
}

/** Density map (cells per pixel) of an image; padded internally to a multiple of 4. */
export function predictDensity(m: DensityModelInfo, img: PixelImage): Float32Array {
  const { width: w, height: h } = img;
  const pw = Math.ceil(w / 4) * 4;
  const ph = Math.ceil(h / 4) * 4;
  const x = densityInput(img, m.normalisation);
  const padded = new Float32Array(pw * ph * 3);
  for (let y = 0; y < h; y++) padded.set(x.subarray(y * w * 3, (y + 1) * w * 3), y * pw * 3);
  const out = tf.tidy(() => {
    const t = tf.tensor4d(padded, [1, ph, pw, 3]);
    return (m.model.predict(t) as tf.Tensor).dataSync() as Float32Array;
  });
  const density = new Float32Array(w * h);
  for (let y = 0; y < h; y++) for (let x2 = 0; x2 < w; x2++) density[y * w + x2] = out[y * pw + x2] / m.scale;
  return density;
}

export interface DensityCountOptions {
  /** Minimum distance between reported cell locations, pixels (default 2σ). */
  minDistance?: number;
}

export function countDensity(m: DensityModelInfo, img: PixelImage, o: DensityCountOptions = {}): CountResult {
  const density = predictDensity(m, img);
  let total = 0;
  for (let i = 0; i < density.length; i++) total += density[i];
  // A lone cell peaks at 1/(2πσ²); a peak below 30% of that is noise, not a cell.
  const floor = 0.3 / (2 * Math.PI * m.sigma * m.sigma);
  const mask = new Uint8Array(density.length);
  for (let i = 0; i < density.length; i++) mask[i] = density[i] > floor ? 1 : 0;
  const peaks = findMarkers(
    { data: density, width: img.width, height: img.height },
    { minDistance: o.minDistance ?? Math.max(2, Math.round(2 * m.sigma)), mask },
  );
  const cells = Array.from(peaks, (p) => ({
    x: p % img.width,
    y: Math.floor(p / img.width),
    score: density[p],
  }));
  return { count: Math.max(0, calibratedCount(total, img.width * img.height, m.calibration)), cells };
}
