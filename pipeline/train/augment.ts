/**
 * Training augmentation of one RGB patch into the model's normalised float input: a random flip and
 * 90° rotation (the dihedral group, all label-preserving for tissue), then colour jitter in H&E space:
 * optical densities are unmixed into haematoxylin, eosin and residual (Ruifrok & Johnston's vectors),
 * each stain amount is scaled by 1 ± σ and shifted by ± β, and mixed back (as Tellez et al. 2018).
 */
import { type Normalisation, normaliseInto } from '../models/normalise.ts';
import {
  applyPhotometric,
  drawPhotometric,
  isPhotometricOn,
  type PhotometricDraw,
  type PhotometricOptions,
  STRONG_PHOTOMETRIC,
} from '../stain/augment.ts';
import type { Rng } from '../util/rng.ts';

export interface AugmentOptions {
  geometric: boolean;
  /** Stain amount scale spread (0 = off). */
  stainScale: number;
  /** Stain amount shift spread in optical density (0 = off). */
  stainShift: number;
  /** Brightness, contrast, blur and JPEG jitter after the H&E jitter (absent = off). */
  photometric?: PhotometricOptions;
}

export const DEFAULT_AUGMENT: AugmentOptions = { geometric: true, stainScale: 0.05, stainShift: 0.05 };

/**
 * `--augment`: Tellez et al.'s "HED-strong"-like jitter (σ = 0.2 on the amounts, ±0.05 OD bias) plus
 * brightness, contrast, blur and JPEG-quality jitter (pipeline/stain/augment.ts).
 */
export const STRONG_AUGMENT: AugmentOptions = {
  geometric: true,
  stainScale: 0.2,
  stainShift: 0.05,
  photometric: STRONG_PHOTOMETRIC,
};

// Ruifrok & Johnston H, E and residual (DAB) optical-density vectors, rows normalised.
const STAINS = [
  [0.65, 0.7, 0.29],
  [0.07, 0.99, 0.11],
  [0.27, 0.57, 0.78],
].map((v) => {
  const n = Math.hypot(v[0], v[1], v[2]);
  return v.map((x) => x / n);
});

function invert3(m: number[][]): number[][] {
  const [a, b, c] = m[0];
  const [d, e, f] = m[1];
  const [g, h, i] = m[2];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [C / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

// od (row vector, per channel) = conc · STAINS, so conc = od · STAINS⁻¹.
const UNMIX = invert3(STAINS);
const OD = Float64Array.from({ length: 256 }, (_, v) => -Math.log((v + 1) / 256));

/** Source index for output pixel (x, y) under one of the 8 dihedral transforms. */
function sourceIndex(t: number, x: number, y: number, n: number): number {
  const m = n - 1;
  let sx: number;
  let sy: number;
  switch (t & 3) {
    case 0:
      sx = x;
      sy = y;
      break;
    case 1:
      sx = y;
      sy = m - x;
      break;
    case 2:
      sx = m - x;
      sy = m - y;
      break;
    default:
      sx = m - y;
      sy = x;
  }
  if (t & 4) sx = m - sx;
  return sy * n + sx;
}

/** One patch's augmentation parameters: everything augmentPatch draws from its RNG. */
export interface AugmentDraw {
  /** Dihedral transform 0–7. */
  transform: number;
  /** H, E, residual amount scales and optical-density shifts. */
  scale: [number, number, number];
  shift: [number, number, number];
  /** Present when photometric augmentation is on. */
  photometric?: PhotometricDraw;
}

/**
 * Draws one patch's augmentation from `rng` in a fixed order (the order augmentPatch always used, so a
 * saved RNG state reproduces the same batch). Cheap: the data-parallel trainer draws the whole batch
 * in order on the main thread and lets each thread apply its shard's draws (applyAugment).
 */
export function drawAugment(rng: Rng, options: AugmentOptions): AugmentDraw {
  const transform = options.geometric ? rng.int(8) : 0;
  const scale = [0, 1, 2].map(() => 1 + (rng.next() * 2 - 1) * options.stainScale) as AugmentDraw['scale'];
  const shift = [0, 1, 2].map(() => (rng.next() * 2 - 1) * options.stainShift) as AugmentDraw['shift'];
  // Drawn only when on, so runs without it keep their exact draws.
  const photometric =
    options.photometric && isPhotometricOn(options.photometric)
      ? drawPhotometric(rng, options.photometric)
      : undefined;
  return photometric ? { transform, scale, shift, photometric } : { transform, scale, shift };
}

/**
 * Writes the patch augmented by `draw`, normalised (size² × 3 floats), into `out` at `offset`. `tmp` is
 * scratch of size² × 3 bytes. Deterministic: the same draw gives the same floats on any thread.
 */
export function applyAugment(
  src: Uint8Array,
  size: number,
  draw: AugmentDraw,
  options: AugmentOptions,
  norm: Normalisation,
  out: Float32Array,
  offset: number,
  tmp: Uint8Array,
): void {
  const { transform: t, scale, shift } = draw;
  const jitter = options.stainScale > 0 || options.stainShift > 0;
  // Combined map od' = od · UNMIX · diag(scale) · STAINS + shift · STAINS.
  const M = [0, 1, 2].map((r) =>
    [0, 1, 2].map((c) => UNMIX[r].reduce((s, u, k) => s + u * scale[k] * STAINS[k][c], 0)),
  );
  const B = [0, 1, 2].map((c) => shift.reduce((s, b, k) => s + b * STAINS[k][c], 0));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const si = sourceIndex(t, x, y, size) * 3;
      const di = (y * size + x) * 3;
      if (!jitter) {
        tmp[di] = src[si];
        tmp[di + 1] = src[si + 1];
        tmp[di + 2] = src[si + 2];
        continue;
      }
      const o0 = OD[src[si]];
      const o1 = OD[src[si + 1]];
      const o2 = OD[src[si + 2]];
      for (let c = 0; c < 3; c++) {
        const od = o0 * M[0][c] + o1 * M[1][c] + o2 * M[2][c] + B[c];
        const v = 256 * Math.exp(-od) - 1;
        tmp[di + c] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
      }
    }
  }
  if (draw.photometric) applyPhotometric(tmp, size, size, draw.photometric);
  normaliseInto(tmp, 3, norm, out, offset);
}

/**
 * Draws and applies one patch's augmentation (drawAugment then applyAugment). Returns the photometric
 * draw (for the training log) when those augmentations are on.
 */
export function augmentPatch(
  src: Uint8Array,
  size: number,
  rng: Rng,
  options: AugmentOptions,
  norm: Normalisation,
  out: Float32Array,
  offset: number,
  tmp: Uint8Array,
): PhotometricDraw | undefined {
  const draw = drawAugment(rng, options);
  applyAugment(src, size, draw, options, norm, out, offset, tmp);
  return draw.photometric;
}
