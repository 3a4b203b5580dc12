/**
 * CASED (Jesson et al., MICCAI 2017): every training patch keeps a weight, its latest loss; draws are
 * stratified by class (a fixed positive share per batch) and, within a class, mix a uniform draw with a
 * draw proportional to weight:
 *
 *   p(i | class c) = (1 − ε)·[(1 − α)/|c| + α·w_i / Σ_c w] + ε/|c|
 *
 * α is the curriculum: 0 (class-balanced) at step 0, rising linearly to 1 (loss-driven) at
 * `curriculumSteps`. ε is the floor: no patch's probability drops below ε/|c|, so a patch that once scored
 * a low loss is still seen again. Unseen patches start at `initialWeight` (ln 2, the loss of a classifier
 * that says 0.5). Every `refreshEvery` steps `refreshDue()` hands out the next `refreshSize` patches of a
 * fixed pseudo-random walk over the set, to re-score with the current model (weights go stale otherwise).
 * Draws depend only on the weights and the RNG state, both saved, so a restored sampler repeats exactly.
 */
import { ConfigError } from '../../errors.ts';
import { createRng, type RngState } from '../../util/rng.ts';
import { buildStrata, checkShare, effectiveShare, positivesInBatch } from './strata.ts';
import type { PatchSampler, SamplerState } from './types.ts';

export interface CasedOptions {
  seed: number;
  positiveShare?: number;
  /** Steps over which the draw moves from class-balanced to loss-driven (0: loss-driven from the start). */
  curriculumSteps?: number;
  /** ε: share of each class's probability spread uniformly (0 < ε ≤ 1). */
  floor?: number;
  initialWeight?: number;
  /** Exponential smoothing of a patch's weight with its new loss (0: the new loss replaces it). */
  momentum?: number;
  refreshEvery?: number;
  refreshSize?: number;
}

type Filled = Required<CasedOptions>;

const DEFAULTS: Omit<Filled, 'seed'> = {
  positiveShare: 0.5,
  curriculumSteps: 200,
  floor: 0.05,
  initialWeight: Math.LN2,
  momentum: 0,
  refreshEvery: 0,
  refreshSize: 256,
};

function fill(options: CasedOptions): Filled {
  const o = {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  } as Filled;
  checkShare(o.positiveShare);
  if (!(o.floor > 0 && o.floor <= 1)) throw new ConfigError(`CASED floor must be in (0, 1], got ${o.floor}`);
  if (!(o.curriculumSteps >= 0))
    throw new ConfigError(`CASED curriculum steps must be >= 0, got ${o.curriculumSteps}`);
  if (!(o.momentum >= 0 && o.momentum < 1))
    throw new ConfigError(`CASED momentum must be in [0, 1), got ${o.momentum}`);
  if (!(o.initialWeight > 0))
    throw new ConfigError(`CASED initial weight must be > 0, got ${o.initialWeight}`);
  if (!(o.refreshEvery >= 0 && o.refreshSize >= 0))
    throw new ConfigError('CASED refresh settings must be >= 0');
  return o;
}

function encodeWeights(w: Float32Array): string {
  return Buffer.from(w.buffer, w.byteOffset, w.byteLength).toString('base64');
}

function decodeWeights(s: string, n: number): Float32Array {
  const bytes = Buffer.from(s, 'base64');
  if (bytes.length !== n * 4)
    throw new ConfigError(`sampler state holds ${bytes.length / 4} weights, expected ${n}`);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export function createCasedSampler(
  labels: ArrayLike<number>,
  options: CasedOptions,
  restore?: { step: number; rng: RngState; weights?: string; refreshCursor?: number },
): PatchSampler {
  const o = fill(options);
  const strata = buildStrata(labels);
  const n = strata.size;
  const weights = restore?.weights
    ? decodeWeights(restore.weights, n)
    : new Float32Array(n).fill(o.initialWeight);
  const rng = createRng(restore?.rng ?? o.seed);
  let step = restore?.step ?? 0;
  let refreshCursor = restore?.refreshCursor ?? 0;
  // Refresh walk: i_k = (k · stride) mod n with stride coprime to n visits every patch once per n picks.
  let stride = Math.max(1, Math.floor(n * 0.6180339887));
  while (gcd(stride, n) !== 1) stride++;

  // Per-class prefix sums of the weights, rebuilt lazily after updates (O(n), small next to a training step).
  const prefix: [Float64Array, Float64Array] = [
    new Float64Array(strata.byClass[0].length),
    new Float64Array(strata.byClass[1].length),
  ];
  let dirty = true;
  const rebuild = (): void => {
    for (const c of [0, 1] as const) {
      const idx = strata.byClass[c];
      let sum = 0;
      for (let k = 0; k < idx.length; k++) {
        sum += weights[idx[k]];
        prefix[c][k] = sum;
      }
    }
    dirty = false;
  };

  const alpha = (): number => (o.curriculumSteps === 0 ? 1 : Math.min(1, step / o.curriculumSteps));

  const drawFromClass = (c: 0 | 1, uniformShare: number): number => {
    const idx = strata.byClass[c];
    const sums = prefix[c];
    const total = sums[sums.length - 1];
    if (rng.next() < uniformShare || !(total > 0)) return idx[rng.int(idx.length)];
    const target = rng.next() * total;
    let lo = 0;
    let hi = sums.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sums[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return idx[lo];
  };

  return {
    kind: 'cased',
    size: n,
    draw(batchSize) {
      if (dirty) rebuild();
      const a = alpha();
      const uniformShare = (1 - o.floor) * (1 - a) + o.floor;
      const out = new Uint32Array(batchSize);
      const pos = positivesInBatch(strata, batchSize, o.positiveShare, rng);
      for (let k = 0; k < batchSize; k++) out[k] = drawFromClass(k < pos ? 1 : 0, uniformShare);
      step++;
      return out;
    },
    update(indices, losses) {
      if (indices.length !== losses.length)
        throw new ConfigError(`${indices.length} indices but ${losses.length} losses`);
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k];
        const loss = losses[k];
        if (!(i >= 0 && i < n)) throw new ConfigError(`patch index ${i} is outside the training set (${n})`);
        if (!Number.isFinite(loss) || loss < 0) continue; // a NaN loss must not poison the distribution
        weights[i] = o.momentum * weights[i] + (1 - o.momentum) * loss;
      }
      dirty = true;
    },
    refreshDue() {
      if (o.refreshEvery === 0 || step === 0 || step % o.refreshEvery !== 0) return new Uint32Array(0);
      const m = Math.min(o.refreshSize, n);
      const out = new Uint32Array(m);
      for (let k = 0; k < m; k++) {
        out[k] = (refreshCursor * stride) % n;
        refreshCursor = (refreshCursor + 1) % n;
      }
      return out;
    },
    probability(i) {
      if (dirty) rebuild();
      const c = labels[i] as 0 | 1;
      const size = strata.byClass[c].length;
      const s = effectiveShare(strata, o.positiveShare);
      const classShare = c === 1 ? s : 1 - s;
      const total = prefix[c][size - 1];
      const a = alpha();
      const uniformShare = (1 - o.floor) * (1 - a) + o.floor;
      const byWeight = total > 0 ? (1 - uniformShare) * (weights[i] / total) : (1 - uniformShare) / size;
      return classShare * (uniformShare / size + byWeight);
    },
    state: (): SamplerState => ({
      kind: 'cased',
      config: { ...o },
      step,
      rng: rng.state(),
      weights: encodeWeights(weights),
      refreshCursor,
      size: n,
      positives: strata.byClass[1].length,
    }),
  };
}
