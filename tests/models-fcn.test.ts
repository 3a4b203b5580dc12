import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { command as inferCommand } from '../pipeline/commands/infer.ts';
import { ConfigError, MissingResolutionError, ModelError } from '../pipeline/errors.ts';
import { hasTfjsNodeGpu, useBackend } from '../pipeline/models/backend.ts';
import { inferSlides } from '../pipeline/models/fcn.ts';
import { level0Of, outputsPerTile, planFcn, readScale } from '../pipeline/models/fcn-plan.ts';
import { normalisePlanarInto, scorePatches } from '../pipeline/models/fcn-tile.ts';
import { loadModel, type ModelMeta, saveModel } from '../pipeline/models/model-io.ts';
import { type DEFAULT_NORMALISATION, normaliseInto } from '../pipeline/models/normalise.ts';
import { archGeometry, newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { tfjsEngine } from '../pipeline/models/tfjs-engine.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { openStore, type Store } from '../pipeline/store/index.ts';
import type { TissueMask } from '../pipeline/tissue/index.ts';
import { CMU_SLIDE, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

// The same tests run on tfjs-node-gpu with WSI_BACKEND=tensorflow (skipped, with a message, when absent).
const BACKEND = process.env.WSI_BACKEND === 'tensorflow' ? 'tensorflow' : 'wasm';
const SKIP = BACKEND === 'tensorflow' && !(await hasTfjsNodeGpu());
if (SKIP)
  console.warn('WSI_BACKEND=tensorflow but @tensorflow/tfjs-node-gpu is not installed: skipping these tests');

const tmp = tempDir('models-fcn');
const untrainedDir = path.join(tmp.path, 'untrained');
const trainedDir = path.join(tmp.path, 'trained');

beforeAll(async () => {
  if (!SKIP) await useBackend(BACKEND);
  // Random weights: this proves numerical equivalence of two ways of computing the same map, nothing more.
  const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 0.5, seed: 21 });
  await saveModel(untrainedDir, model, meta);
  const trainedMeta: ModelMeta = {
    ...meta,
    training: {
      finishedAt: new Date().toISOString(),
      samples: 1,
      dataset: 'test fixture (not a real training)',
    },
  };
  await saveModel(trainedDir, model, trainedMeta);
  model.dispose();
});

afterAll(() => tmp.cleanup());

describe.skipIf(SKIP)('FCN planning', () => {
  it('snaps to a level within 2 % and maps model pixels onto exact level pixels', () => {
    const levels = [
      { width: 40001, height: 30001, downsample: 1, tileWidth: 256, tileHeight: 256 },
      { width: 10000, height: 7500, downsample: 4.0001, tileWidth: 256, tileHeight: 256 },
    ];
    const s = readScale(levels, 0.25, 1.0);
    expect(s.level).toBe(1);
    expect(s.factor).toBeCloseTo(4.0001, 6);
    for (const v of [0, 1, 999, 5000, 9999]) expect(Math.floor(level0Of(v, s) / s.factor)).toBe(v);
    const r = readScale(levels, 0.25, 0.6);
    expect(r.level).toBeUndefined();
    expect(r.factor).toBeCloseTo(2.4);
    expect(() => readScale(levels, Number.NaN, 1.0)).toThrow(MissingResolutionError);
    expect(() => readScale(levels, 0.25, 0)).toThrow(ConfigError);
  });

  it('tiles partition the output grid exactly once, border tiles included', () => {
    const g = archGeometry(SMALL_ARCH);
    const scale = readScale(
      [{ width: 2220, height: 2967, downsample: 1, tileWidth: 240, tileHeight: 240 }],
      0.499,
      0.5,
    );
    const plan = planFcn(2220, 2967, scale, g, outputsPerTile(g, 300));
    expect(plan.gridCols).toBe(Math.floor((2220 - 68) / 8) + 1);
    expect(plan.gridRows).toBe(Math.floor((2967 - 68) / 8) + 1);
    const seen = new Uint8Array(plan.gridRows * plan.gridCols);
    for (const t of plan.tiles) {
      expect(t.width).toBe(68 + (t.cols - 1) * 8);
      expect(t.x + t.width).toBeLessThanOrEqual(2220);
      for (let r = 0; r < t.rows; r++)
        for (let c = 0; c < t.cols; c++) seen[(t.row0 + r) * plan.gridCols + t.col0 + c]++;
    }
    expect(seen.every((v) => v === 1)).toBe(true);
  });
});

describe('planar (NCHW) normalisation for the ONNX input', () => {
  it('gives the same float32 values as the interleaved one, transposed, for RGB and RGBA pixels', () => {
    for (const channels of [3, 4]) {
      const n = 7 * 5;
      const pixels = Uint8Array.from({ length: n * channels }, (_, i) => (i * 37 + 11) % 256);
      const norm = { mean: [0.4, 0.5, 0.6], std: [0.2, 0.25, 0.3] } as typeof DEFAULT_NORMALISATION;
      const nhwc = new Float32Array(n * 3);
      normaliseInto(pixels, channels, norm, nhwc);
      const nchw = new Float32Array(2 + n * 3).fill(99);
      expect(normalisePlanarInto(pixels, channels, norm, nchw, 2)).toBe(n * 3);
      expect(nchw[0]).toBe(99); // nothing written before the offset
      for (let i = 0; i < n; i++)
        for (let c = 0; c < 3; c++) expect(nchw[2 + c * n + i]).toBe(nhwc[i * 3 + c]);
    }
  });
});

describe.skipIf(SKIP)('FCN inference on a real slide', () => {
  let store: Store;
  beforeAll(() => {
    store = openStore(path.join(tmp.path, 'results.sqlite'));
  });
  afterAll(() => store.close());

  it('the stitched map equals scoring each patch alone, at seams and borders (max abs diff < 1e-4)', async () => {
    // Small tiles (42 × 42 outputs) so the slide has many seams; all points kept.
    const g = archGeometry(SMALL_ARCH);
    const k = outputsPerTile(g, 400);
    expect(k).toBe(42);
    const rowsN = Math.floor((2967 - 68) / 8) + 1;
    const colsN = Math.floor((2220 - 68) / 8) + 1;
    // Tissue (an injected mask, 8 level-0 px per mask px) only over the first 2 × 2 tiles' seams and the
    // bottom-right corner, so only the tiles there run: the rest of the slide is skipped as background.
    const mw = Math.ceil(2220 / 8);
    const mh = Math.ceil(2967 / 8);
    const data = new Uint8Array(mw * mh);
    const paint = (r0: number, r1: number, c0: number, c1: number) => {
      for (let r = r0; r < r1; r++) data.fill(1, r * mw + c0, r * mw + c1);
    };
    paint(0, 2 * k + 2, 0, 2 * k + 2);
    paint(mh - 3, mh, mw - 3, mw);
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
    const summary = await inferSlides({
      store,
      modelDir: untrainedDir,
      slides: [CMU_SLIDE],
      allowUntrained: true,
      workers: 0,
      tileInput: 400,
      minTissue: 0,
      tissueMask: async () => mask,
      quiet: true,
    });
    const done = summary.slides[0];
    expect(done.status).toBe('done');
    expect(done.tilesRun).toBeLessThan(done.tiles! / 3);

    const rows = store.db
      .prepare('SELECT x, y, width, height, score FROM patches WHERE run_id = ? AND slide_id = ?')
      .all(summary.runId, done.slideId) as {
      x: number;
      y: number;
      width: number;
      height: number;
      score: number;
    }[];
    expect(rows.length).toBe(done.points);
    const byXY = new Map(rows.map((r) => [`${r.x},${r.y}`, r]));
    expect(rows[0].width).toBe(68);

    // Seams (last/first output of neighbouring tiles), the slide's top/left and bottom/right borders, and
    // a spread of interior points.
    const seams = [0, 1, k - 1, k, k + 1, 2 * k - 1, 2 * k];
    const points: { row: number; col: number }[] = [];
    for (const row of seams) for (const col of seams) points.push({ row, col });
    for (const row of [rowsN - 2, rowsN - 1])
      for (const col of [colsN - 2, colsN - 1]) points.push({ row, col });
    for (let i = 0; i < 40; i++) points.push({ row: (i * 37) % (2 * k), col: (i * 53) % (2 * k) });

    const { model, meta } = await loadModel(untrainedDir);
    const slide = await openSlide(CMU_SLIDE);
    try {
      const scale = readScale(slide.levels, slide.mpp!.x, 0.5);
      expect(scale.level).toBe(0); // 0.5 µm/px snaps to the slide's 0.499: reads are plain crops
      const ref = await scorePatches(slide, tfjsEngine(model), meta.input.normalisation, scale, g, points);
      let maxDiff = 0;
      points.forEach((p, i) => {
        const row = byXY.get(`${p.col * 8},${p.row * 8}`);
        expect(row, `grid point ${p.row},${p.col}`).toBeDefined();
        maxDiff = Math.max(maxDiff, Math.abs(row!.score - ref[i]));
      });
      expect(maxDiff).toBeLessThan(1e-4);
      // The map is not constant: equality above is not trivially true.
      const scores = rows.map((r) => r.score);
      expect(Math.max(...scores) - Math.min(...scores)).toBeGreaterThan(0.05);
    } finally {
      await slide.close();
      model.dispose();
    }
  });

  it('refuses an untrained model unless allowed, and resumes a finished run without redoing it', async () => {
    await expect(
      inferSlides({ store, modelDir: untrainedDir, slides: [CMU_SLIDE], workers: 0, quiet: true }),
    ).rejects.toThrow(/no training metadata.*--allow-untrained/);
    const first = await inferSlides({
      store,
      modelDir: trainedDir,
      slides: [CMU_SLIDE],
      mpp: 1,
      workers: 1,
      quiet: true,
    });
    expect(first.mode).toBe('pool');
    expect(first.slides[0].status).toBe('done');
    const n = (
      store.db.prepare('SELECT count(*) AS n FROM patches WHERE run_id = ?').get(first.runId) as { n: number }
    ).n;
    expect(n).toBe(first.slides[0].points);
    expect(n).toBeGreaterThan(1000);
    expect(n).toBeLessThan(first.slides[0].tiles! * outputsPerTile(archGeometry(SMALL_ARCH), 1024) ** 2);
    const result = store.db
      .prepare('SELECT score, details_json FROM slide_results WHERE run_id = ?')
      .get(first.runId) as { score: number; details_json: string };
    const details = JSON.parse(result.details_json) as { max: number; p99: number };
    expect(result.score).toBe(details.max);
    // p99 is the nearest-rank 99th percentile of the stored score map (not, say, of one tile's scores).
    const scores = (
      store.db.prepare('SELECT score FROM patches WHERE run_id = ? ORDER BY score').all(first.runId) as {
        score: number;
      }[]
    ).map((r) => r.score);
    expect(details.p99).toBeCloseTo(scores[Math.ceil(0.99 * scores.length) - 1], 6);
    expect(details.max).toBeCloseTo(scores[scores.length - 1], 6);
    const model = store.db.prepare('SELECT kind FROM models WHERE id = ?').get(first.modelId) as {
      kind: string;
    };
    expect(model.kind).toBe('patch-classifier');

    const again = await inferSlides({
      store,
      modelDir: trainedDir,
      slides: [CMU_SLIDE],
      mpp: 1,
      workers: 0,
      quiet: true,
    });
    expect(again.runId).toBe(first.runId);
    expect(again.resumed).toBe(true);
    expect(again.slides[0].status).toBe('skipped');

    // An interrupted slide (no done mark) is cleared and redone: same rows, no duplicates.
    store.db.prepare('DELETE FROM run_slides WHERE run_id = ?').run(first.runId);
    const redo = await inferSlides({
      store,
      modelDir: trainedDir,
      slides: [CMU_SLIDE],
      mpp: 1,
      workers: 0,
      quiet: true,
    });
    expect(redo.slides[0].status).toBe('done');
    const n2 = (
      store.db.prepare('SELECT count(*) AS n FROM patches WHERE run_id = ?').get(first.runId) as { n: number }
    ).n;
    expect(n2).toBe(n);
  });

  it('--assume-mpp only fills in a missing µm/px: a slide that records its own keeps it', async () => {
    const patchesOf = (runId: number) =>
      (store.db.prepare('SELECT count(*) AS n FROM patches WHERE run_id = ?').get(runId) as { n: number }).n;
    const own = await inferSlides({
      store,
      modelDir: trainedDir,
      slides: [CMU_SLIDE],
      mpp: 1,
      workers: 0,
      quiet: true,
    });
    // CMU-1 records 0.499 µm/px; an assumed 2 µm/px, if applied, would make its grid about 16 times larger.
    const assumed = await inferSlides({
      store,
      modelDir: trainedDir,
      slides: [CMU_SLIDE],
      mpp: 1,
      assumeMpp: 2,
      workers: 0,
      quiet: true,
    });
    expect(assumed.slides[0].status).toBe('done');
    expect(patchesOf(assumed.runId)).toBe(patchesOf(own.runId));
  });

  it('reports a slide without µm/px as failed with a one-line reason, and bad flags as ConfigError', async () => {
    const r = await inferSlides({
      store,
      modelDir: trainedDir,
      slides: [TCGA_SLIDE],
      workers: 0,
      quiet: true,
    });
    expect(r.slides[0].status).toBe('failed');
    expect(r.slides[0].error).toMatch(/µm\/px.*--assume-mpp/);
    await expect(
      inferSlides({ store, modelDir: path.join(tmp.path, 'none'), slides: [CMU_SLIDE] }),
    ).rejects.toThrow(ModelError);
    await expect(inferCommand.run(['--model', trainedDir, '--db', 'x.sqlite'])).rejects.toThrow(ConfigError);
    await expect(
      inferCommand.run([CMU_SLIDE, '--model', trainedDir, '--db', 'x.sqlite', '--engine', 'torch']),
    ).rejects.toThrow(/--engine/);
    await expect(
      inferCommand.run([CMU_SLIDE, '--model', trainedDir, '--db', 'x.sqlite', '--workers', '-1']),
    ).rejects.toThrow(ConfigError);
  });
});
