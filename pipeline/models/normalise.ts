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

/** The input channel that feeds output channel `c`: RGB(A) maps straight across, grey (with or without alpha) feeds all three. */
export function sourceChannel(c: number, channels: number): number {
  return channels >= 3 ? c : 0;
}

/**
 * Writes `pixels` (interleaved 8-bit: RGB or RGBA, whose 4th channel is ignored, or grey with or
 * without alpha, replicated to all three) as normalised RGB float32 into `out` starting at `offset`.
 * Returns the number of floats written (width × height × 3).
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
  const [k0, k1, k2] = [0, 1, 2].map((c) => sourceChannel(c, channels));
  for (let i = 0, o = offset; i < n; i++, o += 3) {
    const p = i * channels;
    out[o] = pixels[p + k0] * scale[0] - shift[0];
    out[o + 1] = pixels[p + k1] * scale[1] - shift[1];
    out[o + 2] = pixels[p + k2] * scale[2] - shift[2];
  }
  return n * 3;
}
