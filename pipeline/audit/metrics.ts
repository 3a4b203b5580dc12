/**
 * Per-group performance of slide scores: AUC with a bootstrap 95% CI (pipeline/eval/auc.ts), sensitivity
 * and specificity at the operating threshold, expected calibration error with its reliability bins, the
 * share flagged out of distribution, and a test of whether a group's AUC is lower than the other slides':
 * a stratified bootstrap of AUC(rest) − AUC(group) (each side resampled within its own positives and
 * negatives), one-sided p = share of resamples with a difference ≤ 0, flagged below 0.05 / number of groups
 * (Bonferroni).
 */
import { type AucWithCi, rocAuc, rocAucWithCi } from '../eval/auc.ts';
import { createRng } from '../util/rng.ts';

export interface AuditSlide {
  name: string;
  group: string;
  label: 0 | 1;
  score: number;
  outOfDistribution?: boolean;
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  n: number;
  meanScore: number;
  positiveRate: number;
}

export interface GroupAudit {
  group: string;
  n: number;
  positives: number;
  auc: AucWithCi | null;
  sensitivity: number | null;
  specificity: number | null;
  ece: number;
  bins: ReliabilityBin[];
  oodShare: number | null;
  /** AUC of all other slides, and the one-sided bootstrap p that this group's is lower. */
  restAuc: number | null;
  pLower: number | null;
  flagged: boolean;
}

export interface AuditResult {
  threshold: number;
  bootstrap: number;
  alpha: number;
  overall: GroupAudit;
  groups: GroupAudit[];
}

export function calibration(
  slides: readonly AuditSlide[],
  bins = 10,
): { ece: number; bins: ReliabilityBin[] } {
  const out: ReliabilityBin[] = [];
  let ece = 0;
  for (let b = 0; b < bins; b++) {
    const lo = b / bins;
    const hi = (b + 1) / bins;
    const inBin = slides.filter((s) => s.score >= lo && (b === bins - 1 ? s.score <= hi : s.score < hi));
    if (!inBin.length) continue;
    const meanScore = inBin.reduce((a, s) => a + s.score, 0) / inBin.length;
    const positiveRate = inBin.reduce((a, s) => a + s.label, 0) / inBin.length;
    ece += (inBin.length / slides.length) * Math.abs(meanScore - positiveRate);
    out.push({ lo, hi, n: inBin.length, meanScore, positiveRate });
  }
  return { ece, bins: out };
}

const hasBoth = (s: readonly AuditSlide[]) => s.some((x) => x.label === 1) && s.some((x) => x.label === 0);

function stratifiedResample(s: readonly AuditSlide[], rng: ReturnType<typeof createRng>): AuditSlide[] {
  const pos = s.filter((x) => x.label === 1);
  const neg = s.filter((x) => x.label === 0);
  return [...pos.map(() => pos[rng.int(pos.length)]), ...neg.map(() => neg[rng.int(neg.length)])];
}

const aucOf = (s: readonly AuditSlide[]) =>
  rocAuc(
    s.map((x) => x.score),
    s.map((x) => x.label),
  );

/** One-sided bootstrap p that the group's AUC is below the rest's. */
export function pLowerAuc(
  group: readonly AuditSlide[],
  rest: readonly AuditSlide[],
  iterations: number,
  seed: number,
): number {
  const rng = createRng(seed);
  let atOrBelowZero = 0;
  for (let i = 0; i < iterations; i++) {
    if (aucOf(stratifiedResample(rest, rng)) - aucOf(stratifiedResample(group, rng)) <= 0) atOrBelowZero++;
  }
  return (atOrBelowZero + 1) / (iterations + 1);
}

function auditOf(name: string, s: readonly AuditSlide[], threshold: number, seed: number): GroupAudit {
  const pos = s.filter((x) => x.label === 1);
  const neg = s.filter((x) => x.label === 0);
  const withOod = s.filter((x) => x.outOfDistribution !== undefined);
  const cal = calibration(s);
  return {
    group: name,
    n: s.length,
    positives: pos.length,
    auc: hasBoth(s)
      ? rocAucWithCi(
          s.map((x) => x.score),
          s.map((x) => x.label),
          { seed },
        )
      : null,
    sensitivity: pos.length ? pos.filter((x) => x.score >= threshold).length / pos.length : null,
    specificity: neg.length ? neg.filter((x) => x.score < threshold).length / neg.length : null,
    ece: cal.ece,
    bins: cal.bins,
    oodShare: withOod.length ? withOod.filter((x) => x.outOfDistribution).length / withOod.length : null,
    restAuc: null,
    pLower: null,
    flagged: false,
  };
}

export function auditGroups(
  slides: readonly AuditSlide[],
  o: { threshold?: number; bootstrap?: number; alpha?: number; seed?: number } = {},
): AuditResult {
  const threshold = o.threshold ?? 0.5;
  const bootstrap = o.bootstrap ?? 2000;
  const alpha = o.alpha ?? 0.05;
  const seed = o.seed ?? 1;
  const names = [...new Set(slides.map((s) => s.group))].sort();
  const groups = names.map((g) => {
    const mine = slides.filter((s) => s.group === g);
    const rest = slides.filter((s) => s.group !== g);
    const a = auditOf(g, mine, threshold, seed);
    if (hasBoth(mine) && hasBoth(rest)) {
      a.restAuc = aucOf(rest);
      a.pLower = pLowerAuc(mine, rest, bootstrap, seed);
      a.flagged = a.pLower < alpha / names.length;
    }
    return a;
  });
  return { threshold, bootstrap, alpha, overall: auditOf('all', slides, threshold, seed), groups };
}
