import { describe, expect, it } from 'vitest';
import { ConfigError } from '../pipeline/errors.ts';
import { createSampler, restoreSampler, type SamplerState } from '../pipeline/patches/samplers/index.ts';

// 1000 patches, 20 tumour (2%): the imbalance the samplers exist for.
const N = 1000;
const labels = new Uint8Array(N);
for (let i = 0; i < 20; i++) labels[i * 50] = 1;

function positivesPerBatch(
  kind: 'uniform' | 'balanced' | 'cased',
  share: number,
  batches: number,
  batch: number,
): number[] {
  const s = createSampler(kind, labels, { seed: 3, positiveShare: share });
  return Array.from(
    { length: batches },
    () => Array.from(s.draw(batch)).filter((i) => labels[i] === 1).length,
  );
}

describe('sampler class stratification', () => {
  it('puts exactly batch × share tumour patches in every balanced and CASED batch', () => {
    expect(new Set(positivesPerBatch('balanced', 0.25, 50, 32))).toEqual(new Set([8]));
    expect(new Set(positivesPerBatch('cased', 0.5, 50, 32))).toEqual(new Set([16]));
  });

  it('reaches a fractional share on average (32 × 0.3 = 9.6 per batch)', () => {
    const counts = positivesPerBatch('balanced', 0.3, 400, 32);
    expect(new Set(counts)).toEqual(new Set([9, 10]));
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    expect(mean).toBeGreaterThan(9.45);
    expect(mean).toBeLessThan(9.75);
  });

  it('leaves the uniform sampler at the natural 2% share', () => {
    const counts = positivesPerBatch('uniform', 0.5, 300, 32);
    const share = counts.reduce((a, b) => a + b, 0) / (300 * 32);
    expect(share).toBeGreaterThan(0.01);
    expect(share).toBeLessThan(0.03);
  });

  it('gives probabilities that sum to one', () => {
    for (const kind of ['uniform', 'balanced', 'cased'] as const) {
      const s = createSampler(kind, labels, { seed: 1 });
      let total = 0;
      for (let i = 0; i < N; i++) total += s.probability(i);
      expect(total).toBeCloseTo(1, 9);
    }
  });
});

describe('CASED weights', () => {
  it('moves probability toward high-loss patches once the curriculum has passed', () => {
    const s = createSampler('cased', labels, { seed: 5, curriculumSteps: 10, floor: 0.05 });
    // Normal patches 1..9 are hard (loss 5); all other normals are easy (loss 0.01).
    const normals = Array.from({ length: N }, (_, i) => i).filter((i) => labels[i] === 0);
    s.update(
      normals,
      normals.map((i) => (i >= 1 && i <= 9 ? 5 : 0.01)),
    );
    // At step 0 the draw is still class-balanced: every normal is equally likely.
    expect(s.probability(1)).toBeCloseTo(s.probability(2 + 100), 12);
    for (let k = 0; k < 10; k++) s.draw(8);
    const hard = s.probability(1);
    const easy = s.probability(101);
    // By hand: Σw = 9·5 + 971·0.01 = 54.71; p(hard) = 0.5·(0.05/980 + 0.95·5/54.71).
    expect(hard).toBeCloseTo(0.5 * (0.05 / 980 + (0.95 * 5) / 54.71), 9);
    expect(hard / easy).toBeGreaterThan(100);
    const draws = Array.from({ length: 200 }, () => Array.from(s.draw(32))).flat();
    const hardDraws = draws.filter((i) => i >= 1 && i <= 9).length;
    // Expected share of draws: 9 · hard ≈ 0.39.
    expect(hardDraws / draws.length).toBeGreaterThan(0.33);
    expect(hardDraws / draws.length).toBeLessThan(0.45);
  });

  it('keeps a floor: a zero-loss patch is still drawn with probability ε/|class| × class share', () => {
    const s = createSampler('cased', labels, { seed: 2, curriculumSteps: 0, floor: 0.1 });
    const normals = Array.from({ length: N }, (_, i) => i).filter((i) => labels[i] === 0);
    s.update(
      normals,
      normals.map((i) => (i === 1 ? 10 : 0)),
    );
    expect(s.probability(2)).toBeCloseTo(0.5 * (0.1 / 980), 12);
    expect(s.probability(2)).toBeGreaterThan(0);
    const seen = new Set(Array.from({ length: 3000 }, () => Array.from(s.draw(32))).flat());
    // 96,000 draws × 0.5 × (0.1 / 980) ≈ 4.9 expected per zero-loss normal: almost all appear.
    expect(normals.filter((i) => !seen.has(i)).length).toBeLessThan(40);
  });

  it('hands out refresh subsets every K steps that cover the whole set over time', () => {
    const s = createSampler('cased', labels, { seed: 2, refreshEvery: 5, refreshSize: 100 });
    const refreshed = new Set<number>();
    for (let step = 1; step <= 50; step++) {
      s.draw(4);
      const due = s.refreshDue();
      expect(due.length).toBe(step % 5 === 0 ? 100 : 0);
      for (const i of due) refreshed.add(i);
    }
    expect(refreshed.size).toBe(N);
  });

  it('ignores NaN losses and refuses bad settings and indices', () => {
    const s = createSampler('cased', labels, { seed: 1, curriculumSteps: 0 });
    const before = s.probability(3);
    s.update([3], [Number.NaN]);
    expect(s.probability(3)).toBe(before);
    expect(() => s.update([N + 1], [1])).toThrow(ConfigError);
    expect(() => createSampler('cased', labels, { seed: 1, floor: 0 })).toThrow(/floor/);
    expect(() => createSampler('balanced', labels, { seed: 1, positiveShare: 1 })).toThrow(/positive share/);
    expect(() => createSampler('uniform', [0, 2], { seed: 1 })).toThrow(/label 2/);
  });
});

describe('sampler resume', () => {
  for (const kind of ['uniform', 'balanced', 'cased'] as const) {
    it(`${kind}: a sampler restored from saved state repeats the same draws`, () => {
      const a = createSampler(kind, labels, {
        seed: 11,
        curriculumSteps: 5,
        refreshEvery: 3,
        refreshSize: 7,
      });
      const lossOf = (i: number): number => ((i * 7919) % 101) / 20;
      for (let k = 0; k < 12; k++) {
        const batch = a.draw(16);
        a.update(batch, Array.from(batch, lossOf));
        a.refreshDue();
      }
      const saved = JSON.parse(JSON.stringify(a.state())) as SamplerState;
      const b = restoreSampler(saved, labels);
      for (let k = 0; k < 10; k++) {
        const da = a.draw(16);
        const db = b.draw(16);
        expect(Array.from(db)).toEqual(Array.from(da));
        a.update(da, Array.from(da, lossOf));
        b.update(db, Array.from(db, lossOf));
        expect(Array.from(b.refreshDue())).toEqual(Array.from(a.refreshDue()));
      }
      expect(b.state()).toEqual(a.state());
    });
  }

  it('refuses a checkpoint made for another training set', () => {
    const s = createSampler('cased', labels, { seed: 1 });
    expect(() => restoreSampler(s.state(), labels.subarray(0, 500))).toThrow(/saved for 1000 patches/);
  });
});
