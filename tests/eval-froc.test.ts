import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAsapXml } from '../fixtures/camelyon/asap-xml.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { parseAsapTruth } from '../pipeline/eval/asap.ts';
import { detectionsFromScores, parseDetectionsCsv } from '../pipeline/eval/detections.ts';
import { evaluateFroc, frocInputsFromDirs } from '../pipeline/eval/evaluate.ts';
import { computeFroc, evaluationMask, labelAt, scoreSlide } from '../pipeline/eval/froc.ts';
import { rasterisePolygons } from '../pipeline/eval/mask.ts';

// mpp 0.25 → level-5 pixels are 8 µm: dilation radius 75 / (0.25·32·2) = 4.6875 px, ITC below 275 / 8 = 34.375 px.
const MPP = 0.25;
const square = (x: number, y: number, s: number): [number, number][] => [
  [x, y],
  [x + s, y],
  [x + s, y + s],
  [x, y + s],
];
// Tumour slide: lesion A and lesion B (40 × 40 level-5 px squares), and an isolated tumour cell (20 × 20 level-0 px).
const TUMOUR_XML = formatAsapXml([
  { group: '_0', points: square(3200, 3200, 1280) },
  { group: '_1', points: square(16000, 3200, 1280) },
  { group: '_0', points: square(10000, 10000, 20) },
]);

const tmp = mkdtempSync(join(tmpdir(), 'froc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('CAMELYON16 evaluation mask', () => {
  const mask = evaluationMask(parseAsapTruth(TUMOUR_XML), MPP);

  it('labels two lesions and one isolated tumour cell', () => {
    expect(mask.regions).toBe(3);
    expect(mask.itc.size).toBe(1);
    expect(mask.itc.has(labelAt(mask, 10010, 10010))).toBe(true);
    expect(mask.itc.has(labelAt(mask, 3840, 3840))).toBe(false);
  });

  it('grows each lesion by 37.5 µm (4.69 level-5 pixels), not more', () => {
    // Lesion A's last tumour pixel column is 139 (x 4448..4479). 4 px further (distance 4) is inside, 5 px is not.
    expect(labelAt(mask, 4480 + 3 * 32 + 5, 3840)).toBe(labelAt(mask, 3840, 3840));
    expect(labelAt(mask, 4480 + 4 * 32 + 5, 3840)).toBe(0);
  });

  it('fills a hole inside a ring-shaped lesion', () => {
    const ring = parseAsapTruth(
      formatAsapXml([
        { group: '_0', points: square(0, 0, 3200) },
        { group: '_2', points: square(640, 640, 1920) },
      ]),
    );
    const m = evaluationMask(ring, MPP);
    expect(m.regions).toBe(1);
    expect(labelAt(m, 1600, 1600)).toBe(1);
  });

  it('matches scipy distance_transform_edt + binary_fill_holes + skimage label/regionprops on an irregular mask', () => {
    if (!existsSync('/usr/bin/python3')) return;
    // Irregular lesions: a star, a thin bar (long but narrow), a C shape, touching pairs; at mpp 0.5 (radius 2.34 px).
    const star = Array.from({ length: 14 }, (_, k) => {
      const r = k % 2 ? 900 : 2200;
      const a = (k / 14) * 2 * Math.PI;
      return [6000 + r * Math.cos(a), 6000 + r * Math.sin(a)] as [number, number];
    });
    const polys = [
      { group: '_0' as const, points: star },
      {
        group: '_0' as const,
        points: square(12000, 2000, 200).map(([x, y]) => [x, y * 1] as [number, number]),
      },
      {
        group: '_1' as const,
        points: [
          [1000, 12000],
          [9000, 12100],
          [9000, 12260],
          [1000, 12200],
        ] as [number, number][],
      },
      {
        group: '_0' as const,
        points: [
          [12000, 9000],
          [15000, 9000],
          [15000, 9500],
          [12600, 9500],
          [12600, 12000],
          [15000, 12000],
          [15000, 12500],
          [12000, 12500],
        ] as [number, number][],
      },
      { group: '_0' as const, points: square(2000, 1000, 40) },
    ];
    const truth = parseAsapTruth(formatAsapXml(polys));
    const mpp = 0.5;
    const m = evaluationMask(truth, mpp, { width: 520, height: 420 });
    // Re-run the official steps in Python on our own rasterisation (so only the morphology is compared).
    const w = 520;
    const h = 420;
    const seeds = { originX: 0, originY: 0, width: w, height: h, data: new Uint8Array(w * h) };
    rasterisePolygons(seeds, truth.tumour, 32, 1);
    const labels = new Int32Array(w * h);
    for (let j = 0; j < m.grid.height; j++)
      for (let i = 0; i < m.grid.width; i++)
        labels[(j + m.grid.originY) * w + i + m.grid.originX] = m.grid.data[j * m.grid.width + i];
    const file = join(tmp, 'seeds.json');
    writeFileSync(file, JSON.stringify({ w, h, raw: Array.from(seeds.data) }));
    const script = `
import json, sys, numpy as np
from scipy import ndimage as nd
from skimage import measure
d = json.load(open(sys.argv[1]))
full = np.array(d['raw'], dtype=np.uint8).reshape(d['h'], d['w'])
dist = nd.distance_transform_edt(255 - full * 255)
binary = dist < 75 / (${mpp} * 32 * 2)
lab = measure.label(nd.binary_fill_holes(binary), connectivity=2)
props = measure.regionprops(lab)
itc = [p.label for p in props if p.major_axis_length < 275 / (${mpp} * 32)]
print(json.dumps({'labels': lab.ravel().tolist(), 'count': int(lab.max()), 'itc': itc}))
`;
    const out = JSON.parse(execFileSync('/usr/bin/python3', ['-c', script, file], { encoding: 'utf8' })) as {
      labels: number[];
      count: number;
      itc: number[];
    };
    expect(m.regions).toBe(out.count);
    expect(Array.from(labels)).toEqual(out.labels);
    expect([...m.itc].sort((a, b) => a - b)).toEqual(out.itc);
    expect(out.count).toBeGreaterThanOrEqual(4);
    expect(out.itc.length).toBeGreaterThanOrEqual(1);
  });
});

describe('CAMELYON16 FROC on a hand-built case', () => {
  // Slide T1 (tumour): A hit at 0.6 and again at 0.4 (nothing), ITC hit at 0.8 (ignored), background at 0.9 (FP);
  // lesion B missed. Slide N1 (normal): 0.7 and 0.2 (both FPs). Slide N2 (normal): no detections.
  // FPs {0.9, 0.7, 0.2}, TP per region {A: 0.6, B: 0, ITC: 0}; thresholds = distinct values minus the smallest (0):
  //   t=0.2: 3 FP (1/slide), sens 1/2 | t=0.6: 2 FP (0.667), 1/2 | t=0.7: 2 FP (0.667), 0 | t=0.9: 1 FP (0.333), 0 | (0, 0)
  // Rates: 1/4 → 0, 1/2 → 0, 1 → 1/2, 2 → 1/2, 4 → 1/2, 8 → 1/2; FROC = 2/6 = 1/3.
  const t1 = 'tumor_001';
  const t1Csv = '0.6,3840,3840\n0.4,4000,4000\n0.8,10010,10010\n0.9,30000,30000\n';
  const n1Csv = '0.7,5000,5000\n0.2,100,100\n';

  it('scores the slides as worked out by hand', () => {
    const mask = evaluationMask(parseAsapTruth(TUMOUR_XML), MPP);
    const outcomes = [
      scoreSlide(t1, parseDetectionsCsv(t1Csv), mask),
      scoreSlide('normal_001', parseDetectionsCsv(n1Csv), null),
      scoreSlide('normal_002', [], null),
    ];
    expect(outcomes[0].fpProbs).toEqual([0.9]);
    expect(outcomes[0].tpProbs.slice().sort()).toEqual([0, 0, 0.6]);
    expect(outcomes[0].lesions).toBe(2);
    const r = computeFroc(outcomes);
    expect(r.sensitivities).toEqual([0, 0, 0.5, 0.5, 0.5, 0.5]);
    expect(r.froc).toBeCloseTo(1 / 3, 12);
    expect(r.falsePositives).toBe(3);
    expect(r.truePositives).toBe(1);
    expect(r.curve.map((c) => [c.threshold, Number(c.fps.toFixed(4)), c.sensitivity])).toEqual([
      [0.2, 1, 0.5],
      [0.6, 0.6667, 0.5],
      [0.7, 0.6667, 0],
      [0.9, 0.3333, 0],
      [Number.POSITIVE_INFINITY, 0, 0],
    ]);
  });

  it('scores the same case from folders, counting a tumour slide with no CSV as all missed', () => {
    const det = join(tmp, 'det');
    const truth = join(tmp, 'truth');
    mkdirSync(det, { recursive: true });
    mkdirSync(truth, { recursive: true });
    writeFileSync(join(det, `${t1}.csv`), t1Csv);
    writeFileSync(join(det, 'normal_001.csv'), n1Csv);
    writeFileSync(join(det, 'normal_002.csv'), '');
    writeFileSync(join(truth, `${t1}.xml`), TUMOUR_XML);
    const r = evaluateFroc(frocInputsFromDirs({ detectionsDir: det, truthDir: truth, defaultMpp: MPP }));
    expect(r.froc).toBeCloseTo(1 / 3, 12);
    expect(r.perSlide.find((s) => s.name === t1)).toEqual({
      name: t1,
      tumour: true,
      lesions: 2,
      itc: 1,
      hits: 1,
      fps: 1,
    });
    // A second tumour slide without detections: 2 more lesions, 4 slides. Sensitivity halves, FPs per slide drop.
    writeFileSync(join(truth, 'tumor_002.xml'), TUMOUR_XML);
    const r2 = evaluateFroc(frocInputsFromDirs({ detectionsDir: det, truthDir: truth, defaultMpp: MPP }));
    expect(r2.slides).toBe(4);
    expect(r2.lesions).toBe(4);
    // t=0.2: 3 FP / 4 = 0.75, sens 1/4; t=0.6: 0.5, 1/4; t=0.9: 0.25, 0 → rates 1/4: 0, 1/2: 1/4, 1..8: 1/4.
    expect(r2.sensitivities).toEqual([0, 0.25, 0.25, 0.25, 0.25, 0.25]);
  });

  it('refuses truth without lesions and malformed detection files', () => {
    expect(() => computeFroc([scoreSlide('n', [{ p: 0.5, x: 1, y: 1 }], null)])).toThrow(ConfigError);
    expect(() => parseDetectionsCsv('0.5,10\n', 'x.csv')).toThrow(/x.csv:1: expected 'confidence,X,Y'/);
    expect(() => parseDetectionsCsv('0.5,10,11\nhigh,1,2\n', 'x.csv')).toThrow(/x.csv:2: not numbers/);
    expect(() => parseAsapTruth('<Foo/>', 'bad.xml')).toThrow(/bad.xml: not an ASAP file/);
  });
});

describe('detections from a score map', () => {
  it('keeps local maxima above the threshold and suppresses neighbours within the radius', () => {
    const points = [
      { x: 100, y: 100, score: 0.9 },
      { x: 150, y: 100, score: 0.8 }, // within 100 of the 0.9 peak: suppressed
      { x: 400, y: 100, score: 0.7 },
      { x: 800, y: 800, score: 0.3 }, // below threshold
    ];
    expect(detectionsFromScores(points, { threshold: 0.5, radius: 100 })).toEqual([
      { p: 0.9, x: 100, y: 100 },
      { p: 0.7, x: 400, y: 100 },
    ]);
  });
});
