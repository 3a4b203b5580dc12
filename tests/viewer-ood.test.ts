/**
 * The viewer's out-of-distribution and saliency routes over a real slide (CMU-1-Small-Region) and runs
 * written as the stages write them: an attention-MIL run over an embed run whose encoder is a patch
 * classifier registered in the store, with an out-of-distribution verdict; an FCN-style run with an
 * in-distribution verdict and no classifier; a MIL run whose classifier folder is gone.
 */
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { patchSaliency } from '../pipeline/mil/saliency-gallery.ts';
import { initBackend } from '../pipeline/models/backend.ts';
import { loadModel, saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { overlay } from '../pipeline/models/saliency-image.ts';
import { writeOodVerdict } from '../pipeline/ood/store.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { Slide } from '../pipeline/slide/types.ts';
import {
  beginRun,
  finishRun,
  markSlideDone,
  openStore,
  type Store,
  upsertSlide,
} from '../pipeline/store/index.ts';
import { registerModel } from '../pipeline/store/models.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { createSaliencyService } from '../viewer/server/saliency.ts';
import { createSemaphore } from '../viewer/server/semaphore.ts';
import { CMU_PATH as CMU_SLIDE, TCGA_PATH as TCGA_SLIDE } from './fixtures/viewer-fixtures.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('viewer-ood');
const REASON =
  "nuclei look 3.9× smaller than in training (1.6 µm against 6.3 µm at the stated 0.499 µm/px): check the slide's µm/px (magnification)";
let store: Store;
let viewer: RunningViewer;
let base: string;
let cmu: Slide;
let cmuId: string;
let tcgaId: string;
const runs = { mil: 0, infer: 0, goneMil: 0 };
const classifierDir = join(tmp.path, 'classifier');
/** 4 × 3 grid of 256-px patches with attention. */
const patches = Array.from({ length: 12 }, (_, k) => ({
  x: 256 + (k % 4) * 256,
  y: 256 + Math.floor(k / 4) * 256,
  width: 256,
  height: 256,
  attention: (k + 1) / 12,
}));

beforeAll(async () => {
  await initBackend({ log: () => undefined });
  store = openStore(join(tmp.path, 'v.sqlite'));
  cmu = await openSlide(CMU_SLIDE);
  cmuId = upsertSlide(store, cmu);
  const tcga = await openSlide(TCGA_SLIDE);
  tcgaId = upsertSlide(store, tcga);
  await tcga.close();
  const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1, seed: 9 });
  await saveModel(classifierDir, model, meta);
  model.dispose();
  const encoder = registerModel(store, { name: 'fcn-small', kind: 'patch-classifier', path: classifierDir });
  const goneEncoder = registerModel(store, {
    name: 'gone',
    kind: 'patch-classifier',
    path: join(tmp.path, 'no-such-model'),
  });
  const milModel = registerModel(store, { name: 'mil-attention', kind: 'mil', path: join(tmp.path, 'mil') });
  const embed = beginRun(store, 'embed', { test: 'embed' }, { modelId: encoder });
  const goneEmbed = beginRun(store, 'embed', { test: 'gone' }, { modelId: goneEncoder });
  const mil = beginRun(
    store,
    'mil',
    { test: 'mil' },
    { name: 'mil', modelId: milModel, parentRunId: embed.runId },
  );
  const goneMil = beginRun(
    store,
    'mil',
    { test: 'gone-mil' },
    { modelId: milModel, parentRunId: goneEmbed.runId },
  );
  const infer = beginRun(store, 'infer', { test: 'infer' }, { name: 'fcn' });
  runs.mil = mil.runId;
  runs.goneMil = goneMil.runId;
  runs.infer = infer.runId;
  const insert = store.db.prepare(
    `INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue, score, attention, attention_norm)
     VALUES (?, ?, ?, ?, ?, ?, 0, 0.499, 1, ?, ?, ?)`,
  );
  for (const p of patches) {
    insert.run(mil.runId, cmuId, p.x, p.y, p.width, p.height, null, p.attention, p.attention);
    insert.run(goneMil.runId, cmuId, p.x, p.y, p.width, p.height, null, p.attention, p.attention);
    insert.run(infer.runId, cmuId, p.x, p.y, p.width, p.height, 0.9, null, null);
  }
  const result = store.db.prepare(
    'INSERT INTO slide_results (run_id, slide_id, score, label) VALUES (?, ?, ?, 1)',
  );
  result.run(mil.runId, cmuId, 0.95);
  result.run(infer.runId, cmuId, 0.9);
  const stats = { h: [0.65, 0.7, 0.29], e: [0.07, 0.99, 0.11], maxConc: [1.5, 1] } as const;
  writeOodVerdict(store, mil.runId, cmuId, {
    outOfDistribution: true,
    reason: REASON,
    stats: { ...stats } as never,
  });
  writeOodVerdict(store, infer.runId, cmuId, {
    outOfDistribution: false,
    reason: '',
    stats: { ...stats } as never,
  });
  for (const r of [mil.runId, goneMil.runId, infer.runId]) {
    markSlideDone(store, r, cmuId, patches.length);
    finishRun(store, r);
  }
  viewer = await startViewer({ store, openSlide: (p) => openSlide(p), port: 0, log: () => undefined });
  base = viewer.url.replace(/\/$/, '');
}, 120_000);

afterAll(async () => {
  await viewer?.close();
  await cmu?.close();
  store?.close();
  tmp.cleanup();
});

const get = (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);
const saliencyPath = (run: number, map: string, p: { x: number; y: number }, extra = '') =>
  `/api/runs/${run}/slides/${cmuId}/saliency-${map}.png?x=${p.x}&y=${p.y}${extra}`;

describe('out-of-distribution verdicts in the API', () => {
  it('lists the runs that flagged a slide, for the list badge', async () => {
    const list = (await (await get('/api/slides')).json()) as {
      id: string;
      ood: { runId: number; kind: string; reason: string }[];
    }[];
    expect(list.find((s) => s.id === cmuId)?.ood).toEqual([
      { runId: runs.mil, kind: 'mil', name: 'mil', reason: REASON },
    ]);
    expect(list.find((s) => s.id === tcgaId)?.ood).toEqual([]);
  });

  it('gives each run on a slide its verdict and whether its saliency can be shown', async () => {
    const detail = (await (await get(`/api/slides/${cmuId}`)).json()) as {
      runs: { runId: number; slideScore: number | null; ood: unknown; saliency: boolean }[];
    };
    const byId = new Map(detail.runs.map((r) => [r.runId, r]));
    expect(byId.get(runs.mil)).toMatchObject({
      slideScore: 0.95,
      ood: { outOfDistribution: true, reason: REASON },
      saliency: true,
    });
    expect(byId.get(runs.infer)).toMatchObject({
      ood: { outOfDistribution: false, reason: '' },
      saliency: false,
    });
    // The classifier is found through the store; its folder is gone for this run.
    expect(byId.get(runs.goneMil)).toMatchObject({ ood: null, saliency: false });
  });
});

describe('saliency of the run’s patch classifier on its patches', () => {
  it('serves the gradient and Grad-CAM overlays the classifier gives on that patch', async () => {
    const p = patches[5];
    const res = await get(saliencyPath(runs.mil, 'gradient', p));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await res.arrayBuffer());
    const got = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([got.info.width, got.info.height]).toEqual([160, 160]);
    // The same maps computed here from the model folder the store names, on the same patch.
    const { model, meta } = await loadModel(classifierDir);
    const { rgb, maps } = await patchSaliency(model, meta, cmu, undefined, p);
    model.dispose();
    expect(Number(res.headers.get('x-patch-score'))).toBeCloseTo(maps.score, 3);
    for (const [map, values] of [
      ['gradient', maps.gradient],
      ['gradcam', maps.gradCam],
    ] as const) {
      const want = await sharp(overlay(rgb, values, maps.size), {
        raw: { width: maps.size, height: maps.size, channels: 3 },
      })
        .resize(64, 64, { kernel: 'nearest' })
        .raw()
        .toBuffer();
      const r = await get(saliencyPath(runs.mil, map, p, '&size=64'));
      const raw = await sharp(Buffer.from(await r.arrayBuffer()))
        .removeAlpha()
        .raw()
        .toBuffer();
      expect(raw.equals(want), map).toBe(true);
    }
    // Another patch gives another image.
    const other = await get(saliencyPath(runs.mil, 'gradient', patches[0]));
    expect(Buffer.from(await other.arrayBuffer()).equals(png)).toBe(false);
  });

  it('refuses what it cannot or must not compute', async () => {
    const p = patches[0];
    expect((await get(saliencyPath(runs.mil, 'gradient', { x: p.x + 1, y: p.y }))).status).toBe(404);
    expect((await get(saliencyPath(runs.infer, 'gradient', p))).status).toBe(404);
    expect((await get(saliencyPath(runs.goneMil, 'gradient', p))).status).toBe(404);
    expect((await get(saliencyPath(999, 'gradient', p))).status).toBe(404);
    expect((await get(saliencyPath(runs.mil, 'smoothgrad', p))).status).toBe(404);
    expect((await get(saliencyPath(runs.mil, 'gradient', p, '&size=4096'))).status).toBe(400);
    expect((await get(`/api/runs/${runs.mil}/slides/${cmuId}/saliency-gradient.png?x=${p.x}`)).status).toBe(
      400,
    );
    expect((await get(saliencyPath(runs.mil, 'gradient', p), { method: 'POST' })).status).toBe(405);
  });

  it('keeps its image cache within its byte bound and answers repeats from it', async () => {
    const service = createSaliencyService({ store, semaphore: createSemaphore(2, 16), cacheBytes: 40_000 });
    try {
      const open = async () => cmu;
      const first = await service.render(runs.mil, cmuId, open, patches[1], 'gradcam', 96);
      const again = await service.render(runs.mil, cmuId, open, patches[1], 'gradcam', 96);
      expect(again).toBe(first);
      // Both maps of a patch are cached by one computation.
      expect(await service.render(runs.mil, cmuId, open, patches[1], 'gradient', 96)).not.toBe(first);
      for (const p of patches.slice(2, 8)) {
        await service.render(runs.mil, cmuId, open, p, 'gradient', 96);
        expect(service.cachedBytes).toBeLessThanOrEqual(40_000);
      }
      expect(service.cachedBytes).toBeGreaterThan(0);
    } finally {
      service.close();
    }
  });
});
