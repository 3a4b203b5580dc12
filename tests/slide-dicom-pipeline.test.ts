/**
 * Downstream stages on a DICOM series, unchanged: `wsi patches` and FCN inference on Orthanc's
 * dicomizer series of CMU-1-Small-Region (level 0 = the source's own JPEG tiles, µm/px from the imaged
 * size) give the same grid and the same scores as on the .svs itself.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as patches } from '../pipeline/commands/patches.ts';
import { useBackend } from '../pipeline/models/backend.ts';
import { inferSlides } from '../pipeline/models/fcn.ts';
import { saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { openStore } from '../pipeline/store/index.ts';
import type { TissueMask } from '../pipeline/tissue/index.ts';
import { dicomize } from './helpers/dicomizer.ts';
import { CMU_SLIDE, tempDir } from './helpers/paths.ts';

const tmp = tempDir('slide-dicom-pipeline');
const series = path.join(tmp.path, 'cmu-dicom');
const modelDir = path.join(tmp.path, 'model');

beforeAll(async () => {
  // Imaged width along the rows (the dicomizer's orientation; see slide-dicom-oracle.test.ts), 0.499 µm/px.
  await dicomize(CMU_SLIDE, series, [
    '--imaged-width',
    String((2967 * 0.499) / 1000),
    '--imaged-height',
    String((2220 * 0.499) / 1000),
  ]);
  await useBackend('wasm');
  const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 0.5, seed: 5 });
  await saveModel(modelDir, model, meta);
  model.dispose();
}, 60_000);
afterAll(() => tmp.cleanup());

function quiet<T>(f: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  return f().finally(() => {
    process.stdout.write = write;
  });
}

describe('stages on a DICOM series', () => {
  it('wsi patches: the grid at 1 µm/px matches the .svs (tissue from a different thumbnail level: within 3%)', async () => {
    const db = path.join(tmp.path, 'p.sqlite');
    for (const s of [series, CMU_SLIDE]) {
      expect(
        await quiet(() =>
          patches.run([s, '--db', db, '--mpp', '1', '--size', '64', '--workers', '2', '--quiet']),
        ),
      ).toBe(0);
    }
    const store = openStore(db);
    try {
      const rows = store.db
        .prepare(
          'SELECT s.path AS path, COUNT(*) AS n FROM patches p JOIN slides s ON s.id = p.slide_id GROUP BY s.id',
        )
        .all() as { path: string; n: number }[];
      expect(rows).toHaveLength(2);
      const dicom = rows.find((r) => !r.path.endsWith('.svs'));
      const svs = rows.find((r) => r.path.endsWith('.svs'));
      expect(dicom!.n).toBeGreaterThan(100);
      expect(Math.abs(dicom!.n - svs!.n) / svs!.n).toBeLessThan(0.03);
    } finally {
      store.close();
    }
  }, 120_000);

  it('FCN inference: the same scores as on the .svs at the same grid points', async () => {
    const store = openStore(path.join(tmp.path, 'i.sqlite'));
    // Tissue only in one corner (an injected mask) so the run stays small.
    const mw = Math.ceil(2220 / 8);
    const mh = Math.ceil(2967 / 8);
    const data = new Uint8Array(mw * mh);
    for (let r = 100; r < 160; r++) data.fill(1, r * mw + 100, r * mw + 160);
    const mask: TissueMask = {
      width: mw,
      height: mh,
      data,
      downsample: 2220 / mw,
      polygons: [],
      regions: [],
      threshold: 0,
      umPerPixel: undefined,
    };
    try {
      const scores: Map<string, number>[] = [];
      for (const s of [series, CMU_SLIDE]) {
        const summary = await inferSlides({
          store,
          modelDir,
          slides: [s],
          allowUntrained: true,
          workers: 0,
          tileInput: 400,
          minTissue: 0,
          tissueMask: async () => mask,
          quiet: true,
        });
        expect(summary.slides[0].status).toBe('done');
        const rows = store.db
          .prepare('SELECT x, y, score FROM patches WHERE run_id = ? AND slide_id = ?')
          .all(summary.runId, summary.slides[0].slideId) as { x: number; y: number; score: number }[];
        scores.push(new Map(rows.map((r) => [`${r.x},${r.y}`, r.score])));
      }
      expect(scores[0].size).toBeGreaterThan(50);
      expect(scores[0].size).toBe(scores[1].size);
      let maxDiff = 0;
      for (const [k, v] of scores[0])
        maxDiff = Math.max(maxDiff, Math.abs(v - (scores[1].get(k) ?? Number.NaN)));
      expect(maxDiff).toBeLessThan(1e-4);
    } finally {
      store.close();
    }
  }, 120_000);
});
