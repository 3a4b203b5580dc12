/**
 * The CAMELYON16 lesion-level FROC, following the challenge's evaluation code (Evaluation_FROC.py):
 * - evaluation mask at level 5 (downsample 2^5): tumour pixels, then every pixel whose distance to tumour is
 *   < 75 / (mpp · 2^5 · 2) level-5 pixels (37.5 µm) joins it, holes filled, 8-connected labels;
 * - a region whose major axis is < 275 / (mpp · 2^5) pixels is an isolated tumour cell (ITC): not a lesion
 *   to find, and detections on it are ignored;
 * - per lesion only the highest-probability detection is a true positive, other hits on it count for
 *   nothing; every detection on background or on a normal slide is a false positive;
 * - the curve uses every distinct probability except the smallest as a threshold (the official code's
 *   `all_probs[1:]`, which drops the 0 that missed lesions contribute), then appends (0 FP, 0 sensitivity);
 * - the score is the mean sensitivity at 1/4, 1/2, 1, 2, 4, 8 average FPs per slide, where the sensitivity
 *   at a rate is that of the loosest threshold whose average FP count is ≤ the rate (no interpolation).
 */
import { ConfigError } from '../errors.ts';
import type { TruthPolygons } from './asap.ts';
import {
  fillHoles,
  type Grid,
  label8,
  majorAxisLengths,
  rasterisePolygons,
  squaredDistanceToSeeds,
} from './mask.ts';

export const EVAL_LEVEL = 5;
const FP_RATES = [0.25, 0.5, 1, 2, 4, 8] as const;

export interface Detection {
  p: number;
  x: number;
  y: number;
}

export interface EvaluationMask {
  level: number;
  grid: Grid<Int32Array>;
  /** Number of labelled regions (lesions + ITCs). */
  regions: number;
  /** Labels that are isolated tumour cells. */
  itc: Set<number>;
}

/**
 * Builds the level-5 evaluation mask from truth polygons. `levelSize` is the slide's size at level 5 when
 * known (the window is clipped to it, as the official mask image is); otherwise only the neighbourhood of
 * the polygons is built.
 */
export function evaluationMask(
  truth: TruthPolygons,
  mpp: number,
  levelSize?: { width: number; height: number },
): EvaluationMask {
  const ds = 2 ** EVAL_LEVEL;
  const threshold = 75 / (mpp * ds * 2);
  const empty: EvaluationMask = {
    level: EVAL_LEVEL,
    grid: { originX: 0, originY: 0, width: 0, height: 0, data: new Int32Array(0) },
    regions: 0,
    itc: new Set(),
  };
  if (truth.tumour.length === 0) return empty;
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const poly of truth.tumour) {
    for (const [x, y] of poly) {
      minX = Math.min(minX, x);
      minY = Math.min(minY, y);
      maxX = Math.max(maxX, x);
      maxY = Math.max(maxY, y);
    }
  }
  // Margin: every pixel the dilation can reach, plus a background ring so hole filling sees the outside.
  const margin = Math.ceil(threshold) + 2;
  let x0 = Math.floor(minX / ds) - margin;
  let y0 = Math.floor(minY / ds) - margin;
  let x1 = Math.floor(maxX / ds) + margin;
  let y1 = Math.floor(maxY / ds) + margin;
  if (levelSize) {
    x0 = Math.max(0, x0);
    y0 = Math.max(0, y0);
    x1 = Math.min(levelSize.width - 1, x1);
    y1 = Math.min(levelSize.height - 1, y1);
    if (x1 < x0 || y1 < y0) return empty;
  }
  const w = x1 - x0 + 1;
  const h = y1 - y0 + 1;
  const seeds: Grid<Uint8Array> = {
    originX: x0,
    originY: y0,
    width: w,
    height: h,
    data: new Uint8Array(w * h),
  };
  rasterisePolygons(seeds, truth.tumour, ds, 1);
  rasterisePolygons(seeds, truth.exclusion, ds, 0);
  const d2 = squaredDistanceToSeeds(seeds);
  const binary = new Uint8Array(w * h);
  const t2 = threshold * threshold;
  for (let k = 0; k < w * h; k++) binary[k] = d2[k] < t2 ? 1 : 0;
  fillHoles(binary, w, h);
  const { labels, count } = label8(binary, w, h);
  const axes = majorAxisLengths(labels, w, h, count);
  const itcThreshold = 275 / (mpp * ds);
  const itc = new Set<number>();
  for (let l = 1; l <= count; l++) if (axes[l] < itcThreshold) itc.add(l);
  return {
    level: EVAL_LEVEL,
    grid: { originX: x0, originY: y0, width: w, height: h, data: labels },
    regions: count,
    itc,
  };
}

/** Label under a level-0 point (0 = background), as the official `mask[int(y / 2^5), int(x / 2^5)]`. */
export function labelAt(mask: EvaluationMask, x: number, y: number): number {
  const ds = 2 ** mask.level;
  const i = Math.floor(x / ds) - mask.grid.originX;
  const j = Math.floor(y / ds) - mask.grid.originY;
  if (i < 0 || j < 0 || i >= mask.grid.width || j >= mask.grid.height) return 0;
  return mask.grid.data[j * mask.grid.width + i];
}

export interface SlideOutcome {
  name: string;
  fpProbs: number[];
  /** One entry per region (ITCs included, as 0): the best probability that hit it, 0 when missed. */
  tpProbs: number[];
  lesions: number;
  /** Lesions (not ITCs) hit, with the detection that counted. */
  hits: { label: number; p: number; x: number; y: number }[];
}

/** Classifies one slide's detections. `mask` is null for a normal slide (every detection is an FP). */
export function scoreSlide(
  name: string,
  detections: readonly Detection[],
  mask: EvaluationMask | null,
): SlideOutcome {
  if (!mask || mask.regions === 0)
    return { name, fpProbs: detections.map((d) => d.p), tpProbs: [], lesions: 0, hits: [] };
  const tp = new Array<number>(mask.regions).fill(0);
  const best = new Map<number, Detection>();
  const fp: number[] = [];
  for (const d of detections) {
    const l = labelAt(mask, d.x, d.y);
    if (l === 0) fp.push(d.p);
    else if (!mask.itc.has(l) && d.p > tp[l - 1]) {
      tp[l - 1] = d.p;
      best.set(l, d);
    }
  }
  return {
    name,
    fpProbs: fp,
    tpProbs: tp,
    lesions: mask.regions - mask.itc.size,
    hits: [...best].map(([label, d]) => ({ label, p: d.p, x: d.x, y: d.y })),
  };
}

export interface FrocResult {
  froc: number;
  sensitivities: number[];
  fpRates: number[];
  /** The curve, thresholds ascending: average FPs per slide and sensitivity. */
  curve: { threshold: number; fps: number; sensitivity: number }[];
  slides: number;
  lesions: number;
  truePositives: number;
  falsePositives: number;
}

export function computeFroc(outcomes: readonly SlideOutcome[]): FrocResult {
  if (outcomes.length === 0) throw new ConfigError('FROC needs at least one slide');
  const lesions = outcomes.reduce((s, o) => s + o.lesions, 0);
  if (lesions === 0) throw new ConfigError('FROC needs at least one lesion (not ITC) in the ground truth');
  const fps = outcomes.flatMap((o) => o.fpProbs).sort((a, b) => a - b);
  const tps = outcomes.flatMap((o) => o.tpProbs).sort((a, b) => a - b);
  const thresholds = [...new Set([...fps, ...tps])].sort((a, b) => a - b).slice(1);
  const countAtLeast = (sorted: number[], t: number): number => sorted.length - lowerBound(sorted, t);
  const n = outcomes.length;
  const curve = thresholds.map((t) => ({
    threshold: t,
    fps: countAtLeast(fps, t) / n,
    sensitivity: countAtLeast(tps, t) / lesions,
  }));
  curve.push({ threshold: Number.POSITIVE_INFINITY, fps: 0, sensitivity: 0 });
  const sensitivities = FP_RATES.map((rate) => {
    // Thresholds ascend, so FPs descend: the first point with fps <= rate is the loosest such threshold.
    const point = curve.find((c) => c.fps <= rate)!;
    return point.sensitivity;
  });
  const truePositives = outcomes.reduce((s, o) => s + o.hits.length, 0);
  return {
    froc: sensitivities.reduce((a, b) => a + b, 0) / sensitivities.length,
    sensitivities,
    fpRates: [...FP_RATES],
    curve,
    slides: n,
    lesions,
    truePositives,
    falsePositives: fps.length,
  };
}

function lowerBound(sorted: number[], t: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
