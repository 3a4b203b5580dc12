/**
 * Field quality control for plates. Each field gets measures when it is counted (focus, saturation)
 * and flags once the whole plate is known:
 *   out_of_focus  focus below FOCUS_RATIO × the median focus of the plate's non-empty fields. Focus is
 *                 the variance of the Laplacian (Pech-Pacheco et al. 2000) of the image smoothed with a
 *                 σ = 1 px Gaussian (so camera noise does not pass for sharp edges), divided by the
 *                 variance of that image (so it does not grow with the number or brightness of cells).
 *   empty         no cells found.
 *   saturated     more than SATURATED_FRACTION of the pixels at the top of the range (fluorescence).
 *   outlier       with at least 3 unflagged fields in the well: robust z-score of the count against the
 *                 well's other fields above OUTLIER_Z, z = |c − median| / max(1.4826 MAD, √median, 1)
 *                 (the √median floor is Poisson noise, so two near-equal fields do not make a tiny MAD).
 */
import { gaussianBlur } from './smooth.ts';
import type { GrayImage } from './types.ts';

export const FOCUS_RATIO = 0.5;
/** Pre-smoothing of the focus measure, pixels. */
export const FOCUS_SIGMA = 1;
export const SATURATED_FRACTION = 0.01;
export const OUTLIER_Z = 3.5;

export type QcFlag = 'out_of_focus' | 'empty' | 'saturated' | 'outlier';

export interface FieldMeasures {
  /** var(Laplacian) / var(image); NaN for a constant image. */
  focus: number;
  /** Fraction of pixels at full scale; undefined when not measured (brightfield). */
  saturated?: number;
  /** Mean intensity in 0..1. */
  mean: number;
}

/** Focus, saturation and mean of a grey image (values 0..1, 1 = the file's full range). */
export function measureField(g: GrayImage, measureSaturation: boolean): FieldMeasures {
  const { data: raw } = g;
  let top = 0;
  for (let i = 0; i < raw.length; i++) if (raw[i] >= 1) top++;
  // Laplacian of a Gaussian (σ = FOCUS_SIGMA): pixel noise has no edges to lose, so it must not count.
  const { data: d, width: w, height: h } = gaussianBlur(g, FOCUS_SIGMA);
  let sum = 0;
  let sum2 = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    sum += v;
    sum2 += v * v;
  }
  const n = d.length;
  const mean = sum / n;
  const variance = sum2 / n - mean * mean;
  let ls = 0;
  let ls2 = 0;
  let m = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1, i = y * w + 1; x < w - 1; x++, i++) {
      const l = d[i - 1] + d[i + 1] + d[i - w] + d[i + w] - 4 * d[i];
      ls += l;
      ls2 += l * l;
      m++;
    }
  }
  const lapVar = m > 0 ? ls2 / m - (ls / m) ** 2 : 0;
  return {
    focus: variance > 1e-12 ? lapVar / variance : Number.NaN,
    saturated: measureSaturation ? top / n : undefined,
    mean,
  };
}

export interface QcField {
  plate?: string;
  well?: string;
  count: number;
  focus?: number;
  saturated?: number;
}

function median(v: readonly number[]): number {
  const s = [...v].sort((a, b) => a - b);
  const k = s.length >> 1;
  return s.length % 2 ? s[k] : (s[k - 1] + s[k]) / 2;
}

/** Robust z of each value against the others' median and MAD (with the Poisson floor). */
export function robustZ(values: readonly number[]): number[] {
  const med = median(values);
  const mad = median(values.map((v) => Math.abs(v - med)));
  const scale = Math.max(1.4826 * mad, Math.sqrt(Math.max(med, 0)), 1);
  return values.map((v) => Math.abs(v - med) / scale);
}

/** Flags per field (same order as the input). Fields without a well get only the per-field flags. */
export function flagFields(fields: readonly QcField[]): QcFlag[][] {
  const flags: QcFlag[][] = fields.map(() => []);
  const byPlate = new Map<string, number[]>();
  fields.forEach((f, i) => {
    if (f.count === 0) flags[i].push('empty');
    if (f.saturated !== undefined && f.saturated > SATURATED_FRACTION) flags[i].push('saturated');
    // Focus is judged against the plate only: a folder of unrelated images has no common reference.
    if (f.plate !== undefined && f.well !== undefined)
      byPlate.set(f.plate, [...(byPlate.get(f.plate) ?? []), i]);
  });
  for (const idx of byPlate.values()) {
    const foci = idx
      .filter((i) => fields[i].count > 0 && Number.isFinite(fields[i].focus))
      .map((i) => fields[i].focus!);
    const ref = foci.length ? median(foci) : Number.NaN;
    for (const i of idx) {
      const f = fields[i];
      if (f.count > 0 && Number.isFinite(ref) && Number.isFinite(f.focus) && f.focus! < FOCUS_RATIO * ref)
        flags[i].push('out_of_focus');
    }
  }
  const byWell = new Map<string, number[]>();
  fields.forEach((f, i) => {
    if (f.well === undefined) return;
    const k = `${f.plate ?? ''}\u0000${f.well}`;
    byWell.set(k, [...(byWell.get(k) ?? []), i]);
  });
  for (const idx of byWell.values()) {
    const clean = idx.filter((i) => flags[i].length === 0);
    if (clean.length < 3) continue;
    const z = robustZ(clean.map((i) => fields[i].count));
    clean.forEach((i, k) => {
      if (z[k] > OUTLIER_Z) flags[i].push('outlier');
    });
  }
  return flags;
}
