/**
 * Out-of-distribution verdicts: statistics of the training slides saved with the model (Macenko stain
 * vectors and concentration percentiles, nucleus size at the stated µm/px) and a per-slide comparison
 * against them with a reason a user can act on.
 */
import type { Slide } from '../slide/types.ts';
import { angleDeg, unit } from '../stain/linalg.ts';
import { estimateSlideStain } from '../stain/slide.ts';
import type { StainMatrix, Vec3 } from '../stain/types.ts';
import { detectTissue } from '../tissue/index.ts';
import type { TissueMask } from '../tissue/types.ts';
import { measureNuclei } from './nuclei.ts';

export interface SlideStats {
  h: Vec3;
  e: Vec3;
  maxConc: [number, number];
  /** Median nucleus diameter at the stated µm/px (absent: no µm/px, or too few nuclei found). */
  nucleusUm?: number;
  /** Focus measure of tissue regions at 0.25 µm/px (pipeline/ood/nuclei.ts). */
  sharpness?: number;
}

export interface OodReference {
  slides: number;
  h: Vec3;
  e: Vec3;
  /** Largest angle of a training slide's vector from the mean, degrees. */
  hSpreadDeg: number;
  eSpreadDeg: number;
  maxConcRange: { h: [number, number]; e: [number, number] };
  nucleusUm?: { median: number; min: number; max: number };
  sharpness?: [number, number];
}

export interface OodVerdict {
  outOfDistribution: boolean;
  /** Empty when in distribution; otherwise every failed check, joined with '; '. */
  reason: string;
  stats: SlideStats;
}

/**
 * Thresholds: stain angles beyond max(spread × 2.5, 15°) — the synthetic generator alone varies a slide's
 * haematoxylin by up to ~13° within one centre, and a few training slides understate that spread —;
 * concentration or sharpness beyond ½× … 2× the training range; nuclei 1.6× off the training median.
 */
export const OOD_LIMITS = {
  spreadFactor: 2.5,
  minAngleDeg: 15,
  concFactor: 2,
  nucleusFactor: 1.6,
  sharpFactor: 2,
};

export async function slideStats(slide: Slide, mask?: TissueMask): Promise<SlideStats> {
  const m = mask ?? (await detectTissue(slide));
  // 12 regions (half the normaliser's 24): a verdict needs the direction, not a precise target.
  const stain = (await estimateSlideStain(slide, 'macenko', { mask: m, regions: 12 }))
    .estimate as StainMatrix;
  const nuclei = await measureNuclei(slide, m);
  return {
    h: stain.h,
    e: stain.e,
    maxConc: stain.maxConc,
    nucleusUm: nuclei?.diameterUm,
    sharpness: nuclei?.sharpness,
  };
}

export function buildOodReference(stats: readonly SlideStats[]): OodReference {
  if (!stats.length) throw new Error('no training slides for the out-of-distribution reference');
  const mean = (vs: Vec3[]) => unit([0, 1, 2].map((c) => vs.reduce((s, v) => s + v[c], 0)));
  const h = mean(stats.map((s) => s.h));
  const e = mean(stats.map((s) => s.e));
  const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];
  const sharp = stats.map((s) => s.sharpness).filter((v): v is number => v !== undefined);
  const nuc = stats
    .map((s) => s.nucleusUm)
    .filter((v): v is number => v !== undefined)
    .sort((a, b) => a - b);
  return {
    slides: stats.length,
    h,
    e,
    hSpreadDeg: Math.max(...stats.map((s) => angleDeg(s.h, h))),
    eSpreadDeg: Math.max(...stats.map((s) => angleDeg(s.e, e))),
    maxConcRange: { h: range(stats.map((s) => s.maxConc[0])), e: range(stats.map((s) => s.maxConc[1])) },
    ...(nuc.length
      ? { nucleusUm: { median: nuc[Math.floor(nuc.length / 2)], min: nuc[0], max: nuc[nuc.length - 1] } }
      : {}),
    ...(sharp.length ? { sharpness: range(sharp) } : {}),
  };
}

export function oodVerdict(ref: OodReference, s: SlideStats, statedMpp?: number): OodVerdict {
  const reasons: string[] = [];
  const L = OOD_LIMITS;
  if (ref.nucleusUm && s.nucleusUm !== undefined) {
    const r = s.nucleusUm / ref.nucleusUm.median;
    if (r < 1 / L.nucleusFactor || r > L.nucleusFactor) {
      const how = r < 1 ? `${(1 / r).toFixed(1)}× smaller` : `${r.toFixed(1)}× larger`;
      reasons.push(
        `nuclei look ${how} than in training (${s.nucleusUm.toFixed(1)} µm against ${ref.nucleusUm.median.toFixed(1)} µm` +
          `${statedMpp ? ` at the stated ${statedMpp} µm/px` : ''}): check the slide's µm/px (magnification)`,
      );
    }
  }
  if (ref.sharpness && s.sharpness !== undefined) {
    const [lo, hi] = ref.sharpness;
    if (s.sharpness < lo / L.sharpFactor || s.sharpness > hi * L.sharpFactor)
      reasons.push(
        `image ${s.sharpness < lo ? 'much blurrier' : 'much sharper'} than in training (focus ${s.sharpness.toFixed(3)} against ` +
          `${lo.toFixed(3)}–${hi.toFixed(3)}): another scanner, focus or magnification`,
      );
  }
  for (const [name, v, mean, spread] of [
    ['haematoxylin', s.h, ref.h, ref.hSpreadDeg],
    ['eosin', s.e, ref.e, ref.eSpreadDeg],
  ] as const) {
    const a = angleDeg(v, mean);
    const limit = Math.max(spread * L.spreadFactor, L.minAngleDeg);
    if (a > limit)
      reasons.push(
        `${name} colour ${a.toFixed(1)}° from the training slides' (they lie within ${spread.toFixed(1)}°): another stain or scanner`,
      );
  }
  for (const [name, c, [lo, hi]] of [
    ['haematoxylin', s.maxConc[0], ref.maxConcRange.h],
    ['eosin', s.maxConc[1], ref.maxConcRange.e],
  ] as const) {
    if (c < lo / L.concFactor || c > hi * L.concFactor)
      reasons.push(
        `${name} ${c < lo ? 'much weaker' : 'much stronger'} than in training (${c.toFixed(2)} against ${lo.toFixed(2)}–${hi.toFixed(2)})`,
      );
  }
  return { outOfDistribution: reasons.length > 0, reason: reasons.join('; '), stats: s };
}
