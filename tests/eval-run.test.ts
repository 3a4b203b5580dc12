import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAsapXml } from '../fixtures/camelyon/asap-xml.ts';
import { evaluateRun } from '../pipeline/eval/run-eval.ts';
import { beginRun, markSlideDone, openStore } from '../pipeline/store/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'eval-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('scoring one of our runs from the store', () => {
  it('turns patch scores into CAMELYON CSVs, FROC and slide AUC', () => {
    const store = openStore(join(tmp, 'r.sqlite'));
    try {
      const addSlide = store.db.prepare(
        `INSERT INTO slides (id, path, name, format, width, height, mpp_x, mpp_y, levels_json) VALUES (?, ?, ?, 'tiff', 8192, 8192, 0.25, 0.25, '[]')`,
      );
      addSlide.run('t1', '/x/tumor_1.tif', 'tumor_1.tif');
      addSlide.run('n1', '/x/normal_1.tif', 'normal_1.tif');
      const { runId } = beginRun(store, 'infer', { test: true });
      const patch = store.db.prepare(
        'INSERT INTO patches (run_id, slide_id, x, y, width, height, score) VALUES (?, ?, ?, ?, 256, 256, ?)',
      );
      // Tumour slide: a lesion over [2048, 3328)²; two neighbouring high patches on it (one detection after
      // suppression), one false-positive patch far away. Normal slide: one moderately high patch.
      patch.run(runId, 't1', 2304, 2304, 0.95);
      patch.run(runId, 't1', 2560, 2304, 0.9);
      patch.run(runId, 't1', 6000, 6000, 0.6);
      patch.run(runId, 't1', 100, 100, 0.1);
      patch.run(runId, 'n1', 4000, 4000, 0.7);
      patch.run(runId, 'n1', 300, 300, 0.2);
      markSlideDone(store, runId, 't1', 4);
      markSlideDone(store, runId, 'n1', 2);
      const truth = join(tmp, 'truth');
      mkdirSync(truth);
      writeFileSync(
        join(truth, 'tumor_1.xml'),
        formatAsapXml([
          {
            group: '_0',
            points: [
              [2048, 2048],
              [3328, 2048],
              [3328, 3328],
              [2048, 3328],
            ],
          },
        ]),
      );
      const out = join(tmp, 'csv');
      const r = evaluateRun(store, runId, { truthDir: truth, defaultMpp: 0.25, outDir: out, threshold: 0.5 });
      // Detections: t1 {0.95 on the lesion, 0.6 FP}, n1 {0.7 FP}. FPs {0.6, 0.7}, TP {0.95}.
      // Thresholds (smallest distinct value dropped): 0.7 → 1 FP (0.5/slide), sens 1; 0.95 → 0 FP, sens 1.
      expect(r.froc?.sensitivities).toEqual([1, 1, 1, 1, 1, 1]);
      expect(readFileSync(join(out, 'tumor_1.csv'), 'utf8')).toBe('0.95,2432,2432\n0.6,6128,6128\n');
      expect(readFileSync(join(out, 'normal_1.csv'), 'utf8')).toBe('0.7,4128,4128\n');
      expect(r.slides).toEqual([
        { name: 'normal_1', score: 0.7, label: 0, detections: 1 },
        { name: 'tumor_1', score: 0.95, label: 1, detections: 2 },
      ]);
      expect(r.auc?.auc).toBe(1);
    } finally {
      store.close();
    }
  });

  it('names a run without scored patches', () => {
    const store = openStore(join(tmp, 'empty.sqlite'));
    try {
      expect(() => evaluateRun(store, 42, { truthDir: tmp, defaultMpp: 0.25 })).toThrow(
        /run 42 has no slides/,
      );
    } finally {
      store.close();
    }
  });
});
