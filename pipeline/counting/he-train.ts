/**
 * Learning the H&E counter's watershed parameters: a coordinate-descent search over a fixed grid that
 * minimises the mean absolute count error on dot-annotated images (MBM), subject to nucleus detection
 * F1 on instance-labelled images (MoNuSeg) not falling below a floor. Held-out error comes from
 * grouped k-fold cross-validation: whole groups (patients) are left out, and the search never sees them.
 */
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { haematoxylin } from './channel.ts';
import { listAnnotated, loadAnnotated } from './dataset.ts';
import { scoreDetections } from './evaluate.ts';
import { heOptions, LEARNED_KEYS, type LearnedKey, type LearnedParameters } from './he-counter.ts';
import { readImage, readLabelMap } from './image-io.ts';
import type { GrayImage } from './types.ts';
import { segmentChannel } from './watershed-counter.ts';

/** The grid searched, per parameter (lengths and areas in pixels of the training images). */
export const HE_SEARCH_SPACE: Record<LearnedKey, readonly number[]> = {
  sigma: [1.5, 2, 2.5, 3],
  thresholdScale: [0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.4, 1.5],
  minDistance: [4, 6, 8],
  h: [1, 1.5, 2, 2.5, 3, 4],
  minArea: [40, 60, 80, 100, 120, 140, 160, 200],
};

/** Start of the search: the brightfield preset as shipped before issue 17. */
export const HE_SEARCH_START: LearnedParameters = {
  sigma: 2,
  thresholdScale: 1,
  minDistance: 6,
  h: 2,
  minArea: 40,
};

export interface DotImage {
  name: string;
  /** Cross-validation group (MBM: the patient, `BM_GRAZ_HE_0001_…` → 0001). */
  group: string;
  gray: GrayImage;
  truth: number;
}

export interface LabelledImage {
  name: string;
  gray: GrayImage;
  labels: Int32Array;
}

/** Memoised evaluations: the same (parameters, image) pair is segmented once across all folds. */
export class HeEvaluator {
  private counts = new Map<string, number>();
  private f1s = new Map<string, number>();
  evaluations = 0;

  count(p: LearnedParameters, img: DotImage): number {
    const key = `${JSON.stringify(p)}|${img.name}`;
    let c = this.counts.get(key);
    if (c === undefined) {
      c = segmentChannel(img.gray, heOptions(p)).count;
      this.evaluations++;
      this.counts.set(key, c);
    }
    return c;
  }

  f1(p: LearnedParameters, img: LabelledImage): number {
    const key = `${JSON.stringify(p)}|${img.name}`;
    let f = this.f1s.get(key);
    if (f === undefined) {
      const r = segmentChannel(img.gray, heOptions(p));
      this.evaluations++;
      f = scoreDetections(r.cells, img.labels, img.gray.width, img.gray.height).f1;
      this.f1s.set(key, f);
    }
    return f;
  }

  mae(p: LearnedParameters, imgs: readonly DotImage[]): number {
    return imgs.reduce((s, d) => s + Math.abs(this.count(p, d) - d.truth), 0) / imgs.length;
  }

  /** Lowest F1 over the labelled images (1 when there are none). */
  minF1(p: LearnedParameters, imgs: readonly LabelledImage[]): number {
    return imgs.reduce((m, d) => Math.min(m, this.f1(p, d)), 1);
  }
}

export interface SearchResult {
  parameters: LearnedParameters;
  trainMae: number;
  f1: number;
}

/**
 * Coordinate descent: for each parameter in turn, try every grid value with the others fixed and keep
 * the best feasible one (F1 ≥ f1Floor); repeat until a full round changes nothing (at most `rounds`).
 * Ties keep the current value, so the result does not depend on grid order.
 */
export function searchParameters(
  ev: HeEvaluator,
  train: readonly DotImage[],
  labelled: readonly LabelledImage[],
  f1Floor: number,
  rounds = 4,
  start: LearnedParameters = HE_SEARCH_START,
): SearchResult {
  if (train.length === 0) throw new ConfigError('the H&E parameter search needs training images');
  const feasible = (p: LearnedParameters) => ev.minF1(p, labelled) >= f1Floor;
  let best = { ...start };
  let bestLoss = feasible(best) ? ev.mae(best, train) : Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    let changed = false;
    for (const key of LEARNED_KEYS) {
      for (const v of HE_SEARCH_SPACE[key]) {
        if (v === best[key]) continue;
        const cand = { ...best, [key]: v };
        if (!feasible(cand)) continue;
        const loss = ev.mae(cand, train);
        if (loss < bestLoss - 1e-9) {
          best = cand;
          bestLoss = loss;
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  if (!Number.isFinite(bestLoss)) {
    throw new ConfigError(`no parameter set in the grid reaches detection F1 ≥ ${f1Floor}`);
  }
  return { parameters: best, trainMae: bestLoss, f1: ev.minF1(best, labelled) };
}

export interface FoldResult {
  heldOut: string;
  parameters: LearnedParameters;
  trainMae: number;
  testMae: number;
  errors: { name: string; truth: number; predicted: number }[];
}

/** Leave-one-group-out cross-validation: each fold searches on the other groups only. */
export function crossValidate(
  ev: HeEvaluator,
  images: readonly DotImage[],
  labelled: readonly LabelledImage[],
  f1Floor: number,
): { folds: FoldResult[]; mae: number } {
  const groups = [...new Set(images.map((d) => d.group))].sort();
  if (groups.length < 2) throw new ConfigError('cross-validation needs at least two groups of images');
  const folds = groups.map((g) => {
    const test = images.filter((d) => d.group === g);
    const s = searchParameters(
      ev,
      images.filter((d) => d.group !== g),
      labelled,
      f1Floor,
    );
    const errors = test.map((d) => ({ name: d.name, truth: d.truth, predicted: ev.count(s.parameters, d) }));
    return {
      heldOut: g,
      parameters: s.parameters,
      trainMae: s.trainMae,
      testMae: ev.mae(s.parameters, test),
      errors,
    };
  });
  const all = folds.flatMap((f) => f.errors);
  return { folds, mae: all.reduce((s, e) => s + Math.abs(e.predicted - e.truth), 0) / all.length };
}

/** MBM names carry the patient: BM_GRAZ_HE_0001_01_000.png → 0001. Other names: their own group. */
export function groupOf(name: string): string {
  return /_(\d{4})_\d{2}_\d{3}\./.exec(name)?.[1] ?? name;
}

export async function loadDotImages(dir: string): Promise<DotImage[]> {
  const items = listAnnotated(dir, undefined, 'dots');
  return Promise.all(
    items.map(async (it) => {
      const { image, dots } = await loadAnnotated(it);
      return { name: it.name, group: groupOf(it.name), gray: haematoxylin(image), truth: dots.length };
    }),
  );
}

/** `image.png` with its instance label map `image_labels.png`. */
export async function loadLabelledImage(imagePath: string, labelsPath?: string): Promise<LabelledImage> {
  const lp = labelsPath ?? imagePath.replace(/(\.[a-z0-9]+)$/i, '_labels$1');
  const [img, lab] = await Promise.all([readImage(imagePath), readLabelMap(lp)]);
  if (lab.width !== img.width || lab.height !== img.height) {
    throw new ConfigError(
      `${path.basename(lp)} is ${lab.width}×${lab.height}, its image ${img.width}×${img.height}`,
    );
  }
  return { name: path.basename(imagePath), gray: haematoxylin(img), labels: lab.labels };
}
