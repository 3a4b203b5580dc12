import { describe, expect, it } from 'vitest';
import { ConfigError } from '../pipeline/errors.ts';
import { rocAuc, rocAucWithCi, rocCurve } from '../pipeline/eval/auc.ts';
import { joinPredictions, parseLabelsCsv, parsePredictionsCsv } from '../pipeline/eval/tables.ts';

describe('ROC AUC', () => {
  it('matches a hand count of correctly ordered positive/negative pairs', () => {
    // Pairs (pos, neg): (0.35,0.1) ok, (0.35,0.4) wrong, (0.8,0.1) ok, (0.8,0.4) ok → 3/4.
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
  });

  it('counts a tied positive/negative pair as one half', () => {
    // Positives 0.5, 0.9; negatives 0.5, 0.5: (0.5 vs 0.5) twice = 2 × ½, (0.9 vs each) = 2 → 3/4.
    expect(rocAuc([0.5, 0.5, 0.5, 0.9], [0, 1, 0, 1])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1])).toBeCloseTo(0.5, 12);
  });

  it('gives a seeded bootstrap interval that contains the AUC and repeats for the same seed', () => {
    const scores = Array.from({ length: 60 }, (_, i) => ((i * 37) % 60) / 60);
    const labels = scores.map((s, i) => (s + ((i * 13) % 7) / 14 > 0.7 ? 1 : 0));
    const a = rocAucWithCi(scores, labels, { seed: 7, iterations: 500 });
    const b = rocAucWithCi(scores, labels, { seed: 7, iterations: 500 });
    const c = rocAucWithCi(scores, labels, { seed: 8, iterations: 500 });
    expect(a).toEqual(b);
    expect(a.ci95).not.toEqual(c.ci95);
    expect(a.ci95[0]).toBeLessThan(a.auc);
    expect(a.ci95[1]).toBeGreaterThan(a.auc);
    expect(a.ci95[0]).toBeGreaterThanOrEqual(0);
    expect(a.ci95[1]).toBeLessThanOrEqual(1);
    const perfect = rocAucWithCi([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], { seed: 1, iterations: 200 });
    expect(perfect.auc).toBe(1);
    expect(perfect.ci95).toEqual([1, 1]);
  });

  it('draws the ROC curve with tied scores as one step', () => {
    expect(rocCurve([0.5, 0.5, 0.9, 0.1], [0, 1, 1, 0])).toEqual([
      { fpr: 0, tpr: 0 },
      { fpr: 0, tpr: 0.5 },
      { fpr: 0.5, tpr: 1 },
      { fpr: 1, tpr: 1 },
    ]);
  });

  it('refuses inputs without both classes, bad labels or length mismatch', () => {
    expect(() => rocAuc([0.1, 0.2], [1, 1])).toThrow(ConfigError);
    expect(() => rocAuc([0.1, 0.2], [0, 2])).toThrow(/expected 0 or 1/);
    expect(() => rocAuc([0.1], [0, 1])).toThrow(/1 scores but 2 labels/);
    expect(() => rocAuc([Number.NaN, 0.2], [0, 1])).toThrow(/finite/);
  });
});

describe('slide-level CSVs', () => {
  it('reads CAMELYON16 reference labels and predictions and joins them by slide name', () => {
    const labels = parseLabelsCsv('test_001,Tumor,Macro,Primary\ntest_002,Normal\ntest_003.tif,Tumor\n');
    const preds = parsePredictionsCsv(
      'slide,prob\ntest_001.tif,0.9\ntest_002,0.2\ntest_003,0.1\nextra,0.5\n',
    );
    const joined = joinPredictions(preds, labels);
    expect(joined).toEqual({
      names: ['test_001', 'test_002', 'test_003'],
      scores: [0.9, 0.2, 0.1],
      labels: [1, 0, 1],
    });
  });

  it('names the line of a bad label or probability and a slide without prediction', () => {
    expect(() => parseLabelsCsv('a,Tumor\nb,Maybe\n')).toThrow(/line 2: unknown label 'Maybe'/);
    // The same parser as wsi mil (slide-labels.ts), keeping the names' case for eval.
    expect([...parseLabelsCsv('Tumor_001;positive\nnormal_002.svs,negative\n')]).toEqual([
      ['Tumor_001', 1],
      ['normal_002', 0],
    ]);
    expect(() => parsePredictionsCsv('a,0.1\nb,high\n')).toThrow(/:2: probability is not a number/);
    expect(() => joinPredictions(new Map([['a', 0.1]]), new Map([['b', 1 as const]]))).toThrow(
      /no prediction.*'b'/,
    );
  });
});
