import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { imageKind, methodFor, parseCountMethod } from '../pipeline/counting/auto-method.ts';
import { countField } from '../pipeline/counting/count-field.ts';
import { loadDensityModel } from '../pipeline/counting/density-io.ts';
import { scoreDetections } from '../pipeline/counting/evaluate.ts';
import { countHe, DEFAULT_HE_MODEL, heModelId, loadHeModel } from '../pipeline/counting/he-counter.ts';
import {
  type DotImage,
  groupOf,
  HeEvaluator,
  type LabelledImage,
  searchParameters,
} from '../pipeline/counting/he-train.ts';
import { readImage, readLabelMap } from '../pipeline/counting/image-io.ts';
import { ConfigError, ModelError } from '../pipeline/errors.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { dataDir, tempDir } from './helpers/paths.ts';

const counting = path.join(dataDir, 'counting');

/** Bright discs (nuclei) plus small specks (debris) on a dark background, with instance labels. */
function synthetic(name: string, nuclei: number, specks: number, seed: number) {
  const w = 96;
  const data = new Float32Array(w * w);
  const labels = new Int32Array(w * w);
  let s = seed;
  const rand = () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
  const centres: [number, number, number][] = [];
  while (centres.length < nuclei + specks) {
    const big = centres.length < nuclei;
    const r = big ? 7 : 3;
    const x = 10 + rand() * (w - 20);
    const y = 10 + rand() * (w - 20);
    if (centres.every(([cx, cy]) => Math.hypot(cx - x, cy - y) > 20)) centres.push([x, y, r]);
  }
  centres.forEach(([cx, cy, r], k) => {
    for (let y = 0; y < w; y++)
      for (let x = 0; x < w; x++)
        if (Math.hypot(x - cx, y - cy) <= r) {
          data[y * w + x] = 1;
          if (k < nuclei) labels[y * w + x] = k + 1;
        }
  });
  const gray = { data, width: w, height: w };
  const dot: DotImage = { name, group: name, gray, truth: nuclei };
  const lab: LabelledImage = { name, gray, labels };
  return { dot, lab };
}

describe('the shipped H&E counter', () => {
  it('is a valid model file whose id names its parameters, and keeps MoNuSeg nucleus F1 ≥ 0.838', async () => {
    const m = loadHeModel();
    expect(m.id).toBe(heModelId('he-watershed', m.parameters));
    expect(loadHeModel(path.dirname(DEFAULT_HE_MODEL)).id).toBe(m.id);
    const img = await readImage(path.join(counting, 'monuseg/TCGA-18-5592-01Z-00-DX1.png'));
    const lab = await readLabelMap(path.join(counting, 'monuseg/TCGA-18-5592-01Z-00-DX1_labels.png'));
    const r = countHe(m, img);
    expect(scoreDetections(r.cells, lab.labels, lab.width, lab.height).f1).toBeGreaterThanOrEqual(0.838);
  });

  it('refuses a file that is not an H&E counter with ModelError', () => {
    const tmp = tempDir('he-model');
    try {
      const bad = path.join(tmp.path, 'x.json');
      writeFileSync(bad, JSON.stringify({ format: 1, kind: 'density', parameters: {} }));
      expect(() => loadHeModel(bad)).toThrow(ModelError);
      expect(() => loadHeModel(path.join(tmp.path, 'none.json'))).toThrow(/cannot read/);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('the parameter search', () => {
  it('learns to drop debris from dot counts, under the F1 floor of labelled images', () => {
    const train = [synthetic('a', 6, 5, 1), synthetic('b', 8, 4, 2)];
    const ev = new HeEvaluator();
    const start = { sigma: 1.5, thresholdScale: 1, minDistance: 6, h: 1, minArea: 40 };
    const lowArea = { ...start, minArea: 10 };
    // Starting where specks count as nuclei, the search moves until the counts are exact.
    expect(
      ev.mae(
        lowArea,
        train.map((t) => t.dot),
      ),
    ).toBeGreaterThan(3);
    const r = searchParameters(
      ev,
      train.map((t) => t.dot),
      train.map((t) => t.lab),
      0.9,
      4,
      lowArea,
    );
    expect(r.trainMae).toBe(0);
    expect(r.parameters).not.toEqual(lowArea);
    expect(r.f1).toBeGreaterThanOrEqual(0.9);
    expect(() => searchParameters(ev, [], [], 0.5)).toThrow(ConfigError);
    // An unreachable floor is an error, not a silent pick.
    expect(() => searchParameters(ev, [train[0].dot], [train[0].lab], 1.01)).toThrow(/no parameter set/);
    expect(groupOf('BM_GRAZ_HE_0002_01_003.png')).toBe('0002');
  });
});

describe('--method auto', () => {
  it('sends VGG fluorescence to the density model and MBM H&E to the H&E counter', async () => {
    expect(parseCountMethod(undefined)).toBe('auto');
    expect(() => parseCountMethod('magic')).toThrow(ConfigError);
    expect(methodFor('channel', 'auto')).toBe('watershed');
    expect(methodFor('brightfield', 'density')).toBe('density');
    const vgg = path.join(counting, 'vgg-cells/071cell.png');
    const mbm = path.join(counting, 'mbm/BM_GRAZ_HE_0003_02_000.png');
    expect(imageKind(await readImage(vgg))).toBe('fluorescence');
    expect(imageKind(await readImage(mbm))).toBe('brightfield');
    await initBackend({ log: () => {} });
    const load = (dir: string) => loadDensityModel(dir);
    const modelDir = path.resolve(DEFAULT_HE_MODEL, '../../density-vgg');
    const v = await countField({ path: vgg, method: 'auto', modelDir }, load);
    expect([v.kind, v.method]).toEqual(['fluorescence', 'density']);
    expect(v.modelId).toMatch(/^density-vgg@[0-9a-f]{8}$/);
    const h = await countField({ path: mbm, method: 'auto', modelDir }, load);
    expect([h.kind, h.method, h.modelId]).toEqual(['brightfield', 'he-watershed', loadHeModel().id]);
    expect(h.measures.saturated).toBeUndefined();
  });
});
