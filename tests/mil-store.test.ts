import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, StoreError } from '../pipeline/errors.ts';
import { rocAuc } from '../pipeline/eval/auc.ts';
import { loadBags, resolveEmbedRun } from '../pipeline/mil/bags-from-store.ts';
import { decodeEmbeddingInto, encodeEmbedding, fromHalf, toHalf } from '../pipeline/mil/embedding-codec.ts';
import { inferMilToStore, splitValidation, trainMilFromStore } from '../pipeline/mil/study.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { parseLabelsCsv, slideKey } from '../pipeline/slide-labels.ts';
import { openStore, type Store } from '../pipeline/store/db.ts';
import { slideResultsOfRun, writeSlideEmbeddings } from '../pipeline/store/mil-queries.ts';
import { beginRun, finishRun } from '../pipeline/store/runs.ts';
import { readTrainingLog } from '../pipeline/store/training-queries.ts';
import { topAttention } from '../pipeline/store/viewer-queries.ts';
import { createRng } from '../pipeline/util/rng.ts';
import { tempDir } from './helpers/paths.ts';

const DIM = 8;
const tmp = tempDir('mil-store');
let store: Store;
let embedRun: number;
const truth = new Map<string, 0 | 1>();
/** Index (in y, x order) of the tumour patch of each positive slide. */
const keyPatch = new Map<string, { x: number; y: number }>();

function addSlide(name: string): string {
  const id = `id-${name}`;
  store.db
    .prepare(
      `INSERT INTO slides (id, path, name, format, width, height, levels_json) VALUES (?, ?, ?, 'generic-tiff', 4096, 4096, '[]')`,
    )
    .run(id, `/data/${name}`, name);
  return id;
}

/** An 'embed' run over 48 synthetic slides: a 6×6 grid of noise patches, one shifted patch on positives. */
function seedEmbedRun(): number {
  const { runId } = beginRun(store, 'embed', { model: '/models/toy', layer: 'features', dtype: 'float16' });
  const rng = createRng(99);
  for (let s = 0; s < 48; s++) {
    const name = `slide_${String(s).padStart(3, '0')}.tif`;
    const label = (s % 2) as 0 | 1;
    truth.set(slideKey(name), label);
    const id = addSlide(name);
    const rows = [];
    const blobs = [];
    const key = rng.int(36);
    for (let k = 0; k < 36; k++) {
      const v = new Float32Array(DIM);
      for (let d = 0; d < DIM; d++) v[d] = rng.normal();
      const box = { x: (k % 6) * 256, y: Math.floor(k / 6) * 256, width: 256, height: 256 };
      if (label === 1 && k === key) {
        v[0] += 4;
        v[1] -= 4;
        keyPatch.set(id, { x: box.x, y: box.y });
      }
      rows.push({ ...box, level: 0, mpp: 0.5, tissue: 1, label: null });
      blobs.push(encodeEmbedding(v, 'float16'));
    }
    writeSlideEmbeddings(store, runId, id, rows, blobs);
  }
  finishRun(store, runId);
  return runId;
}

beforeAll(async () => {
  await initBackend({ log: () => {} });
  store = openStore(join(tmp.path, 'store.sqlite'));
  embedRun = seedEmbedRun();
});
afterAll(() => {
  store.close();
  tmp.cleanup();
});

describe('MIL over the store', () => {
  it('trains from a labels CSV, saves and registers the model, and logs the curve', async () => {
    const csv = [...truth].map(([k, l]) => `${k},${l ? 'Tumor' : 'Normal'}`).join('\n');
    const out = join(tmp.path, 'mil-model');
    const r = await trainMilFromStore(store, {
      labels: parseLabelsCsv(`image,type\n${csv}\n`),
      outDir: out,
      // No dropout: tfjs draws its masks unseeded, and the test should score the same every run.
      config: {
        epochs: 30,
        patience: 12,
        learningRate: 3e-3,
        seed: 3,
        hiddenDim: 16,
        attentionDim: 8,
        dropout: 0,
      },
    });
    expect(existsSync(join(out, 'model.json'))).toBe(true);
    expect(existsSync(join(out, 'mil.json'))).toBe(true);
    expect(r.metrics.trainBags + r.metrics.valBags).toBe(48);
    expect(r.metrics.valBags).toBe(12);
    const model = store.db.prepare('SELECT kind, metrics_json FROM models WHERE id = ?').get(r.modelId) as {
      kind: string;
      metrics_json: string;
    };
    expect(model.kind).toBe('mil');
    expect(JSON.parse(model.metrics_json).bestEpoch).toBe(r.metrics.bestEpoch);
    expect(readTrainingLog(store, r.runId).length).toBe(r.metrics.epochsRun);
  });

  it('infers slide probabilities and per-patch attention (sums to 1, normalised to [0,1]) and resumes', async () => {
    const modelDir = join(tmp.path, 'mil-model');
    const first = await inferMilToStore(store, { modelDir, labels: truth });
    expect(first.slides).toBe(48);
    const results = slideResultsOfRun(store, first.runId);
    expect(results.length).toBe(48);
    const auc = rocAuc(
      results.map((r) => r.score),
      results.map((r) => truth.get(slideKey(r.name)) as number),
    );
    expect(auc).toBeGreaterThan(0.9);
    const sums = store.db
      .prepare(
        `SELECT slide_id, SUM(attention) AS total, MIN(attention_norm) AS lo, MAX(attention_norm) AS hi, COUNT(*) AS n
         FROM patches WHERE run_id = ? GROUP BY slide_id`,
      )
      .all(first.runId) as { total: number; lo: number; hi: number; n: number }[];
    expect(sums.length).toBe(48);
    for (const s of sums) {
      expect(s.total).toBeCloseTo(1, 4);
      expect(s.lo).toBe(0);
      expect(s.hi).toBe(1);
      expect(s.n).toBe(36);
    }
    // The viewer's top-k gallery: on most positive slides the hidden tumour patch is the top patch.
    let hits = 0;
    for (const [slideId, key] of keyPatch) {
      const [top] = topAttention(store, first.runId, slideId, 1);
      if (top.x === key.x && top.y === key.y) hits++;
    }
    expect(hits).toBeGreaterThanOrEqual(20);
    // Each slide's result carries its reference label from the labels given to inference.
    for (const r of results) expect(r.details.reference).toBe(truth.get(slideKey(r.name)));
    const again = await inferMilToStore(store, { modelDir });
    expect(again.runId).toBe(first.runId);
    expect(again.resumed).toBe(true);
    expect(again.skipped).toBe(48);
    expect(again.slides).toBe(0);
  });

  it('decodes float16 bags close to the original vectors', () => {
    const bags = loadBags(store, resolveEmbedRun(store, embedRun));
    expect(bags.length).toBe(48);
    expect(bags[0].dim).toBe(DIM);
    expect(bags[0].patches.length).toBe(36);
    for (const v of [0, 1, -2.5, 3.3, 65504, 1e-6, -0.0001]) {
      expect(Math.abs(fromHalf(toHalf(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 6e-8);
    }
    const out = new Float32Array(3);
    decodeEmbeddingInto(encodeEmbedding(Float32Array.of(1.5, -2, 7.25), 'float32'), 'float32', 3, out, 0);
    expect(Array.from(out)).toEqual([1.5, -2, 7.25]);
    expect(() => decodeEmbeddingInto(Buffer.alloc(5), 'float16', 3, out, 0)).toThrow(StoreError);
  });

  it('reads CAMELYON-style label CSVs and rejects bad ones with ConfigError', () => {
    const labels = parseLabelsCsv('Test_001,Tumor,Macro,Primary\ntest_002.tif,Normal\nslide3.svs;1\n');
    expect(labels.get('test_001')).toBe(1);
    expect(labels.get('test_002')).toBe(0);
    expect(labels.get('slide3')).toBe(1);
    expect(() => parseLabelsCsv('a,Tumor\nb,maybe\n')).toThrow(/unknown label 'maybe'/);
    expect(() => parseLabelsCsv('a,Tumor\na,Normal\n')).toThrow(ConfigError);
    expect(() => parseLabelsCsv('\n\n')).toThrow(ConfigError);
  });

  it('holds out a stratified validation share, or none when a class is too small', () => {
    const bags = Array.from({ length: 20 }, (_, i) => ({ label: (i < 12 ? 0 : 1) as 0 | 1 }));
    const [train, val] = splitValidation(bags, 0.25, 1);
    expect(val.filter((b) => b.label === 0).length).toBe(3);
    expect(val.filter((b) => b.label === 1).length).toBe(2);
    expect(train.length + val.length).toBe(20);
    const [all, none] = splitValidation(bags.slice(9, 14), 0.25, 1);
    expect(none.length).toBe(0);
    expect(all.length).toBe(5);
  });

  it('refuses labels that match no embedded slide, and a run that is not an embed run', async () => {
    await expect(
      trainMilFromStore(store, { labels: new Map([['nothing', 1]]), outDir: join(tmp.path, 'x') }),
    ).rejects.toThrow(/none of the 1 labelled slides/);
    const { runId } = beginRun(store, 'patches', { any: 1 });
    expect(() => resolveEmbedRun(store, runId)).toThrow(/not 'embed'/);
    expect(() => resolveEmbedRun(store, 9999)).toThrow(ConfigError);
  });
});
