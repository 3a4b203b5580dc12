/**
 * FCRN-A-style fully convolutional density regressor (Xie, Noble & Zisserman 2016), scaled down for CPU
 * training: conv-pool ×2, a bottleneck conv, then upsample-conv ×2 back to full resolution and a 1×1 linear
 * head. Output has the input's size; input sides must be multiples of 4.
 */
import * as tf from '@tensorflow/tfjs';
import { type Normalisation, normaliseInto, sourceChannel } from '../models/normalise.ts';

export interface DensityArch {
  /** Channels of the encoder convs (the decoder mirrors them). */
  channels: [number, number, number];
  kernel: number;
}

/** 16-32-64 channels (about 47k weights): twice the width of the first 8-16-32 model, which under-fitted VGG cells (val MAE 9.8 ± 4.4 at N = 32); about 0.33 s per step of 8 × 64² crops on one wasm thread. */
export const DEFAULT_DENSITY_ARCH: DensityArch = { channels: [16, 32, 64], kernel: 3 };

export function buildDensityModel(arch: DensityArch = DEFAULT_DENSITY_ARCH, seed = 1): tf.LayersModel {
  const [c1, c2, c3] = arch.channels;
  let s = seed;
  const init = () => tf.initializers.heNormal({ seed: s++ });
  const conv = (filters: number, k = arch.kernel, activation: 'relu' | 'linear' = 'relu') =>
    tf.layers.conv2d({ filters, kernelSize: k, padding: 'same', activation, kernelInitializer: init() });
  const input = tf.input({ shape: [null, null, 3] });
  let x = conv(c1).apply(input) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = conv(c2).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  x = conv(c3).apply(x) as tf.SymbolicTensor;
  x = tf.layers.upSampling2d({ size: [2, 2] }).apply(x) as tf.SymbolicTensor;
  x = conv(c2).apply(x) as tf.SymbolicTensor;
  x = tf.layers.upSampling2d({ size: [2, 2] }).apply(x) as tf.SymbolicTensor;
  x = conv(c1).apply(x) as tf.SymbolicTensor;
  const out = conv(1, 1, 'linear').apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out, name: 'density_fcrn' });
}

/**
 * Per-image standardisation (as FCRN-A): each channel to zero mean and unit variance over the image,
 * so a change of exposure or gain does not change the count. Output NHWC float32, 3 channels.
 */
export function standardise(
  pixels: Uint8Array,
  channels: number,
  width: number,
  height: number,
): Float32Array {
  const n = width * height;
  const out = new Float32Array(n * 3);
  for (let c = 0; c < 3; c++) {
    const k = Math.min(c, channels - 1);
    let sum = 0;
    let sq = 0;
    for (let p = 0; p < n; p++) {
      const v = pixels[p * channels + k];
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const sd = Math.sqrt(Math.max(sq / n - mean * mean, 0)) || 1;
    for (let p = 0; p < n; p++) out[p * 3 + c] = (pixels[p * channels + k] - mean) / sd;
  }
  return out;
}

/**
 * Per-channel mean and standard deviation over a set of training images, in normalise.ts units
 * (pixel / 255). The deviation has a floor of one grey level: VGG cells carry noise of a level or
 * two in their empty red and green channels, which must not be blown up to unit variance.
 */
export function datasetNormalisation(
  images: readonly { data: Uint8Array; channels: number }[],
): Normalisation {
  const sum = [0, 0, 0];
  const sq = [0, 0, 0];
  let n = 0;
  for (const img of images) {
    const pixels = img.data.length / img.channels;
    for (let c = 0; c < 3; c++) {
      const k = sourceChannel(c, img.channels);
      for (let p = 0; p < pixels; p++) {
        const v = img.data[p * img.channels + k] / 255;
        sum[c] += v;
        sq[c] += v * v;
      }
    }
    n += pixels;
  }
  const mean = sum.map((s) => s / n) as [number, number, number];
  const std = sq.map((q, c) => Math.max(Math.sqrt(Math.max(q / n - mean[c] * mean[c], 0)), 1 / 255)) as [
    number,
    number,
    number,
  ];
  return { mean, std };
}

/**
 * Fixed normalisation (the training set's statistics, kept with the model; normalise.ts arithmetic):
 * unlike per-image standardisation it keeps absolute brightness, which tells a crowded image from a
 * sparse one. Output NHWC float32, 3 channels.
 */
export function normaliseFixed(pixels: Uint8Array, channels: number, norm: Normalisation): Float32Array {
  const out = new Float32Array((pixels.length / channels) * 3);
  normaliseInto(pixels, channels, norm, out);
  return out;
}

/** The model's input transform: its stored normalisation, or per-image standardisation (older models). */
export function densityInput(
  img: { data: Uint8Array; channels: number; width: number; height: number },
  norm: Normalisation | undefined,
): Float32Array {
  return norm
    ? normaliseFixed(img.data, img.channels, norm)
    : standardise(img.data, img.channels, img.width, img.height);
}
