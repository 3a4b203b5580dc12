/**
 * ROC AUC by the rank (Mann–Whitney) formula, which counts tied positive/negative pairs as one half,
 * plus a seeded percentile-bootstrap 95% confidence interval and the ROC curve points.
 */
import { ConfigError } from '../errors.ts';
import { createRng } from '../util/rng.ts';

/** Labels are 1 (positive) or 0 (negative). Throws ConfigError if either class is absent. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  checkInputs(scores, labels);
  const auc = aucOfIndices(scores, labels, identity(scores.length));
  if (Number.isNaN(auc)) throw new ConfigError('AUC needs at least one positive and one negative label');
  return auc;
}

export interface AucWithCi {
  auc: number;
  ci95: [number, number];
  positives: number;
  negatives: number;
  bootstrap: number;
}

/**
 * Percentile bootstrap over cases (resampled with replacement). Resamples that miss a class have no AUC
 * and are skipped; the interval is the 2.5th and 97.5th percentiles of the rest.
 */
export function rocAucWithCi(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: { iterations?: number; seed?: number } = {},
): AucWithCi {
  const auc = rocAuc(scores, labels);
  const iterations = options.iterations ?? 2000;
  const rng = createRng(options.seed ?? 1);
  const n = scores.length;
  const sample = new Uint32Array(n);
  const values: number[] = [];
  for (let i = 0; i < iterations; i++) {
    for (let j = 0; j < n; j++) sample[j] = rng.int(n);
    const v = aucOfIndices(scores, labels, sample);
    if (!Number.isNaN(v)) values.push(v);
  }
  values.sort((x, y) => x - y);
  let positives = 0;
  for (let i = 0; i < n; i++) positives += labels[i] === 1 ? 1 : 0;
  return {
    auc,
    ci95: values.length ? [percentile(values, 0.025), percentile(values, 0.975)] : [auc, auc],
    positives,
    negatives: n - positives,
    bootstrap: values.length,
  };
}

/** ROC points (false-positive rate, true-positive rate) from the strictest threshold to the loosest. */
export function rocCurve(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
): { fpr: number; tpr: number }[] {
  checkInputs(scores, labels);
  const order = Array.from(identity(scores.length)).sort((i, j) => scores[j] - scores[i]);
  let p = 0;
  let n = 0;
  for (const i of order) labels[i] === 1 ? p++ : n++;
  const points = [{ fpr: 0, tpr: 0 }];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    labels[order[k]] === 1 ? tp++ : fp++;
    // Only emit a point once all cases tied at this score are in.
    if (k === order.length - 1 || scores[order[k + 1]] !== scores[order[k]])
      points.push({ fpr: n ? fp / n : 0, tpr: p ? tp / p : 0 });
  }
  return points;
}

function checkInputs(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length)
    throw new ConfigError(`${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] !== 0 && labels[i] !== 1)
      throw new ConfigError(`label ${i} is ${labels[i]}, expected 0 or 1`);
    if (!Number.isFinite(scores[i])) throw new ConfigError(`score ${i} is not a finite number`);
  }
}

function identity(n: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}

/** AUC = (sum of positive ranks − P(P+1)/2) / (P·N), ranks averaged over ties. NaN when a class is absent. */
function aucOfIndices(scores: ArrayLike<number>, labels: ArrayLike<number>, idx: Uint32Array): number {
  const order = Array.from(idx).sort((i, j) => scores[i] - scores[j]);
  let rankSum = 0;
  let positives = 0;
  let k = 0;
  while (k < order.length) {
    let end = k;
    while (end + 1 < order.length && scores[order[end + 1]] === scores[order[k]]) end++;
    const averageRank = (k + end + 2) / 2; // ranks are 1-based
    for (let t = k; t <= end; t++) {
      if (labels[order[t]] === 1) {
        rankSum += averageRank;
        positives++;
      }
    }
    k = end + 1;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

function percentile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
