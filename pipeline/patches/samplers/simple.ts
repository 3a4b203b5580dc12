/** Uniform (every patch equally likely, classes ignored) and class-balanced (stratified, uniform within class) samplers. */
import { createRng, type RngState } from '../../util/rng.ts';
import { buildStrata, checkShare, effectiveShare, positivesInBatch } from './strata.ts';
import type { PatchSampler, SamplerState } from './types.ts';

export function createUniformSampler(
  labels: ArrayLike<number>,
  options: { seed: number },
  restore?: { step: number; rng: RngState },
): PatchSampler {
  const strata = buildStrata(labels);
  const n = strata.size;
  const rng = createRng(restore?.rng ?? options.seed);
  let step = restore?.step ?? 0;
  return {
    kind: 'uniform',
    size: n,
    draw(batchSize) {
      const out = new Uint32Array(batchSize);
      for (let k = 0; k < batchSize; k++) out[k] = rng.int(n);
      step++;
      return out;
    },
    update() {},
    refreshDue: () => new Uint32Array(0),
    probability: () => 1 / n,
    state: (): SamplerState => ({
      kind: 'uniform',
      config: { seed: options.seed },
      step,
      rng: rng.state(),
      size: n,
      positives: strata.byClass[1].length,
    }),
  };
}

export function createBalancedSampler(
  labels: ArrayLike<number>,
  options: { seed: number; positiveShare?: number },
  restore?: { step: number; rng: RngState },
): PatchSampler {
  const strata = buildStrata(labels);
  const share = options.positiveShare ?? 0.5;
  checkShare(share);
  const rng = createRng(restore?.rng ?? options.seed);
  let step = restore?.step ?? 0;
  return {
    kind: 'balanced',
    size: strata.size,
    draw(batchSize) {
      const out = new Uint32Array(batchSize);
      const pos = positivesInBatch(strata, batchSize, share, rng);
      for (let k = 0; k < batchSize; k++) {
        const cls = strata.byClass[k < pos ? 1 : 0];
        out[k] = cls[rng.int(cls.length)];
      }
      step++;
      return out;
    },
    update() {},
    refreshDue: () => new Uint32Array(0),
    probability(i) {
      const s = effectiveShare(strata, share);
      const positive = labels[i] === 1;
      return positive ? s / strata.byClass[1].length : (1 - s) / strata.byClass[0].length;
    },
    state: (): SamplerState => ({
      kind: 'balanced',
      config: { seed: options.seed, positiveShare: share },
      step,
      rng: rng.state(),
      size: strata.size,
      positives: strata.byClass[1].length,
    }),
  };
}
