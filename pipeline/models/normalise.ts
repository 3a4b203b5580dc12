/**
 * Pixel normalisation shared by training, tfjs inference and ONNX inference, so all three see the same
 * numbers: v = (pixel / 255 − mean[c]) / std[c], float32, NHWC.
 */
import { ModelError } from '../errors.ts';

export interface Normalisation {
  mean: [number, number, number];
  std: [number, number, number];
}

export const DEFAULT_NORMALISATION: Normalisation = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };

export function checkNormalisation(n: unknown): Normalisation {
  const ok = (a: unknown, positive: boolean): a is [number, number, number] =>
    Array.isArray(a) &&
    a.length === 3 &&
    a.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  const o = n as Partial<Normalisation> | undefined;
  if (!o || !ok(o.mean, false) || !ok(o.std, true)) {
    throw new ModelError('normalisation must be { mean: [3 numbers], std: [3 positive numbers] }');
  }
  return { mean: o.mean, std: o.std };
}

/**
 * Writes `pixels` (interleaved 8-bit, 3 or 4 channels; the 4th is ignored) as normalised RGB float32
 * into `out` starting at `offset`. Returns the number of floats written (width × height × 3).
 */
export function normaliseInto(
  pixels: Uint8Array,
  channels: number,
  norm: Normalisation,
  out: Float32Array,
  offset = 0,
): number {
  const n = pixels.length / channels;
  const scale = [0, 1, 2].map((c) => 1 / (255 * norm.std[c]));
  const shift = [0, 1, 2].map((c) => norm.mean[c] / norm.std[c]);
  for (let i = 0, o = offset; i < n; i++, o += 3) {
    const p = i * channels;
    out[o] = pixels[p] * scale[0] - shift[0];
    out[o + 1] = pixels[p + 1] * scale[1] - shift[1];
    out[o + 2] = pixels[p + 2] * scale[2] - shift[2];
  }
  return n * 3;
}
