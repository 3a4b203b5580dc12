import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { rocCurve } from '../pipeline/eval/auc.ts';
import { attentionMassInTumour, pointInPolygon } from '../pipeline/mil/attention-mass.ts';
import { renderStudyReport, type StudyReport } from '../pipeline/mil/camelyon-report.ts';
import { writeRocPng } from '../pipeline/mil/roc-plot.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('mil-report');
afterAll(() => tmp.cleanup());

describe('attention mass inside tumour', () => {
  const square = [
    [100, 100],
    [300, 100],
    [300, 300],
    [100, 300],
  ] as const;
  // A 4 × 4 grid of 100-px patches; centres at 50, 150, 250, 350.
  const patches = Array.from({ length: 16 }, (_, k) => ({
    x: (k % 4) * 100,
    y: Math.floor(k / 4) * 100,
    width: 100,
    height: 100,
  }));

  it('sums the attention of patches whose centre is in tumour and not in an exclusion', () => {
    const attention = patches.map((_, k) => (k === 5 ? 0.5 : 0.5 / 15));
    const m = attentionMassInTumour(patches, attention, { tumour: [square], exclusion: [] });
    expect(m.inside).toBe(4); // centres (150,150), (250,150), (150,250), (250,250)
    expect(m.share).toBeCloseTo(4 / 16);
    expect(m.mass).toBeCloseTo(0.5 + 3 * (0.5 / 15));
    const hole = [
      [200, 200],
      [300, 200],
      [300, 300],
      [200, 300],
    ] as const;
    const withHole = attentionMassInTumour(patches, attention, { tumour: [square], exclusion: [hole] });
    expect(withHole.inside).toBe(3);
  });

  it('tests points against concave polygons', () => {
    const l = [
      [0, 0],
      [10, 0],
      [10, 4],
      [4, 4],
      [4, 10],
      [0, 10],
    ] as const;
    expect(pointInPolygon(2, 8, l)).toBe(true);
    expect(pointInPolygon(8, 8, l)).toBe(false);
    expect(pointInPolygon(8, 2, l)).toBe(true);
  });
});

describe('study report pieces', () => {
  it('draws a ROC plot PNG with one curve per method', async () => {
    const file = join(tmp.path, 'roc.png');
    const scores = [0.9, 0.8, 0.3, 0.7, 0.2, 0.1];
    const labels = [1, 1, 0, 1, 0, 0];
    await writeRocPng(file, [{ name: 'MIL', auc: 1, points: rocCurve(scores, labels) }], 'ROC');
    const meta = await sharp(file).metadata();
    expect(meta.format).toBe('png');
    expect(meta.width).toBe(480);
    // The curve colour is on the image (the top-left corner of a perfect ROC is red).
    const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
    let red = 0;
    for (let i = 0; i < data.length; i += info.channels)
      if (data[i] > 180 && data[i + 1] < 80 && data[i + 2] < 80) red++;
    expect(red).toBeGreaterThan(200);
  });

  it('says n/a instead of a number when the test set lacks a class or has no lesion', () => {
    const report: StudyReport = {
      outDir: '/o',
      dbPath: '/o/study.sqlite',
      trainSlides: 2,
      trainTumour: 1,
      testSlides: 1,
      testTumour: 0,
      runs: { infer: 2, embed: 3, mil: 5 },
      classifier: { dir: '/o/classifier', steps: 3 },
      milDir: '/o/mil-model',
      fcnAuc: null,
      milAuc: null,
      froc: null,
      rocFile: null,
      attention: [],
      galleries: [],
      perSlide: [{ name: 'test_001', label: 0, fcn: 0.1, mil: 0.2 }],
      timings: { embeddings: 1.5 },
    };
    const md = renderStudyReport(report);
    expect(md).toContain('| attention-MIL | n/a (test set lacks a class)');
    expect(md).toContain('Not computed: the test slides have no lesion');
    expect(md).not.toContain('![ROC]');
    expect(md).toContain('| test_001 | Normal | 0.100 | 0.200 |');
  });
});
