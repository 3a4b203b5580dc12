/** Counting accuracy: mean absolute count error and one-to-one detection matching against instance labels. */

export interface CountPair {
  predicted: number;
  truth: number;
}

export function meanAbsoluteError(pairs: readonly CountPair[]): number {
  if (pairs.length === 0) return Number.NaN;
  return pairs.reduce((s, p) => s + Math.abs(p.predicted - p.truth), 0) / pairs.length;
}

export function meanAndSd(values: readonly number[]): { mean: number; sd: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd =
    values.length > 1 ? Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1)) : 0;
  return { mean, sd };
}

export interface DetectionScore {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  precision: number;
  recall: number;
  f1: number;
}

/**
 * A detection matches a nucleus when its (rounded) centroid lies inside that nucleus; each nucleus
 * matches at most one detection (further detections inside it are false positives).
 */
export function scoreDetections(
  detections: readonly { x: number; y: number }[],
  labels: Int32Array,
  width: number,
  height: number,
): DetectionScore {
  const ids = new Set<number>();
  for (let i = 0; i < labels.length; i++) if (labels[i] > 0) ids.add(labels[i]);
  const matched = new Set<number>();
  let tp = 0;
  for (const d of detections) {
    const x = Math.min(width - 1, Math.max(0, Math.round(d.x)));
    const y = Math.min(height - 1, Math.max(0, Math.round(d.y)));
    const l = labels[y * width + x];
    if (l > 0 && !matched.has(l)) {
      matched.add(l);
      tp++;
    }
  }
  const fp = detections.length - tp;
  const fn = ids.size - tp;
  const precision = detections.length ? tp / detections.length : 0;
  const recall = ids.size ? tp / ids.size : 0;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { truePositives: tp, falsePositives: fp, falseNegatives: fn, precision, recall, f1 };
}
