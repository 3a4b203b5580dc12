/** One entry point for all three methods: estimate a slide's or region's stain from its tissue pixels. */
import { ConfigError } from '../errors.ts';
import { percentile } from './linalg.ts';
import { estimateMacenko } from './macenko.ts';
import { matrixNormaliser } from './matrix.ts';
import { tissueOd } from './od.ts';
import { estimateLabStats, reinhardNormaliser } from './reinhard.ts';
import {
  STAIN_METHODS,
  type StainEstimate,
  type StainMethod,
  type TileNormaliser,
  type Vec3,
} from './types.ts';
import { estimateVahadane } from './vahadane.ts';

export interface EstimateOptions {
  /** Which pixels are tissue (pixel index → boolean); all pixels when absent. */
  tissue?: (pixel: number) => boolean;
  /** Light through glass; estimated from the non-tissue pixels (or the brightest) when absent. */
  background?: Vec3;
}

export function parseStainMethod(s: string, flag = '--stain-norm'): StainMethod {
  if ((STAIN_METHODS as readonly string[]).includes(s)) return s as StainMethod;
  throw new ConfigError(`${flag} must be one of ${STAIN_METHODS.join(', ')}, got '${s}'`);
}

/** `--stain-norm` value: a method, or undefined for 'none' (and for the flag left out). */
export function parseStainNormFlag(s: string | undefined): StainMethod | undefined {
  if (s === undefined || s === 'none') return undefined;
  if ((STAIN_METHODS as readonly string[]).includes(s)) return s as StainMethod;
  throw new ConfigError(`--stain-norm must be none, ${STAIN_METHODS.join(', ')}; got '${s}'`);
}

/**
 * Per-channel glass intensity: the median of the non-tissue pixels when at least 1% of the image is
 * glass, else each channel's 99th percentile; clamped to 180–255 so a dark region cannot pass for glass.
 * Pure white (all channels ≥ 254) is left out when other glass remains: scanners fill unscanned tiles
 * with it (TCGA's slide here is 55% such padding around glass at ~236).
 */
export function estimateBackground(
  pixels: Uint8Array,
  channels: number,
  tissue?: (pixel: number) => boolean,
): Vec3 {
  const n = pixels.length / channels;
  const stride = Math.max(1, Math.floor(n / 100_000));
  const glass: number[][] = [[], [], []];
  const scanned: number[][] = [[], [], []];
  const all: number[][] = [[], [], []];
  for (let i = 0; i < n; i += stride) {
    const isGlass = tissue ? !tissue(i) : false;
    const p = i * channels;
    const padding = pixels[p] >= 254 && pixels[p + 1] >= 254 && pixels[p + 2] >= 254;
    for (let c = 0; c < 3; c++) {
      const v = pixels[p + c];
      all[c].push(v);
      if (isGlass) glass[c].push(v);
      if (isGlass && !padding) scanned[c].push(v);
    }
  }
  const enough = (a: number[]) => a.length >= all[0].length * 0.01 && a.length >= 16;
  const pick = enough(scanned[0]) ? scanned : enough(glass[0]) ? glass : null;
  return [0, 1, 2].map((c) => {
    const v = pick ? percentile(pick[c], 50) : percentile(all[c], 99);
    return Math.min(255, Math.max(180, v));
  }) as Vec3;
}

export function estimateStain(
  method: StainMethod,
  pixels: Uint8Array,
  channels: number,
  o: EstimateOptions = {},
): StainEstimate {
  if (method === 'reinhard') return estimateLabStats(pixels, channels, { keep: o.tissue });
  const background = o.background ?? estimateBackground(pixels, channels, o.tissue);
  const od = tissueOd(pixels, channels, background, { keep: o.tissue });
  if (od.length / 3 < 16)
    throw new ConfigError('too few stained tissue pixels to estimate stain vectors (blank or glass region?)');
  return method === 'macenko' ? estimateMacenko(od, background) : estimateVahadane(od, background);
}

/** The per-tile map from a slide's estimate to the target (both must come from the same method). */
export function createTileNormaliser(source: StainEstimate, target: StainEstimate): TileNormaliser {
  if (source.method !== target.method)
    throw new ConfigError(`stain estimate (${source.method}) and target (${target.method}) differ in method`);
  if (source.method === 'reinhard' && target.method === 'reinhard') return reinhardNormaliser(source, target);
  if (source.method !== 'reinhard' && target.method !== 'reinhard') return matrixNormaliser(source, target);
  throw new ConfigError('unreachable stain method pair');
}

const isVec3 = (v: unknown, min = Number.NEGATIVE_INFINITY): v is Vec3 =>
  Array.isArray(v) &&
  v.length === 3 &&
  v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= min);

/** Checks a stain target read from JSON (a model sidecar, a file); throws ConfigError naming the field. */
export function checkStainEstimate(v: unknown, what = 'stain target'): StainEstimate {
  const o = v as Partial<Record<string, unknown>> | null;
  if (!o || typeof o !== 'object') throw new ConfigError(`${what} must be an object`);
  const method = parseStainMethod(String(o.method), `${what}.method`);
  if (method === 'reinhard') {
    if (!isVec3(o.mean) || !isVec3(o.std, 1e-9))
      throw new ConfigError(`${what}: reinhard needs mean and std, three numbers each`);
    return { method, mean: o.mean, std: o.std };
  }
  if (!isVec3(o.h, 0) || !isVec3(o.e, 0) || !isVec3(o.background, 1))
    throw new ConfigError(`${what}: ${method} needs h, e (non-negative OD vectors) and background`);
  const mc = o.maxConc;
  if (!Array.isArray(mc) || mc.length !== 2 || !mc.every((x) => typeof x === 'number' && x > 0))
    throw new ConfigError(`${what}: maxConc must be two positive numbers`);
  return { method, h: o.h, e: o.e, maxConc: [mc[0], mc[1]], background: o.background };
}
