/** Per-class index lists and the per-batch class split shared by the balanced and CASED samplers. */
import { ConfigError } from '../../errors.ts';
import type { Rng } from '../../util/rng.ts';

export interface Strata {
  /** Patch indices of class 0 and class 1. */
  readonly byClass: [Uint32Array, Uint32Array];
  readonly size: number;
}

export function buildStrata(labels: ArrayLike<number>): Strata {
  const counts = [0, 0];
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l !== 0 && l !== 1) throw new ConfigError(`patch ${i} has label ${l}; samplers need labels 0 or 1`);
    counts[l]++;
  }
  if (labels.length === 0) throw new ConfigError('no labelled patches to sample from');
  const byClass: [Uint32Array, Uint32Array] = [new Uint32Array(counts[0]), new Uint32Array(counts[1])];
  const fill = [0, 0];
  for (let i = 0; i < labels.length; i++) byClass[labels[i]][fill[labels[i]]++] = i;
  return { byClass, size: labels.length };
}

/**
 * How many of a batch are positives: batch × share, the fractional part decided by one draw so the long-run
 * share is exact. An empty class gives all draws to the other.
 */
export function positivesInBatch(strata: Strata, batchSize: number, share: number, rng: Rng): number {
  if (strata.byClass[1].length === 0) return 0;
  if (strata.byClass[0].length === 0) return batchSize;
  const exact = batchSize * share;
  const base = Math.floor(exact);
  return base + (rng.next() < exact - base ? 1 : 0);
}

/** Effective positive share of one draw (for probabilities): the configured share unless a class is empty. */
export function effectiveShare(strata: Strata, share: number): number {
  if (strata.byClass[1].length === 0) return 0;
  if (strata.byClass[0].length === 0) return 1;
  return share;
}

export function checkShare(share: number): void {
  if (!(share > 0 && share < 1))
    throw new ConfigError(`positive share must be between 0 and 1 (exclusive), got ${share}`);
}
