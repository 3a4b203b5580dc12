/**
 * `wsi train --annotations-from-db`: annotations drawn in the viewer change the training patch labels where
 * they were drawn, and only there: a drawn tumour polygon on a normal synthetic slide turns the patches whose
 * centre region it covers to tumour; 'normal' inside a file's tumour outline turns them back; 'exclude'
 * drops patches. The command trains on them and records the drawings in the run's identity.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticSet } from '../fixtures/camelyon/generate.ts';
import { pointInRings, type Ring } from '../pipeline/annotations/raster.ts';
import { drawnTrainingTruth, mergeDrawnTruth } from '../pipeline/annotations/training-from-store.ts';
import { main } from '../pipeline/cli.ts';
import { archGeometry } from '../pipeline/models/patch-classifier.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { openStore, type Store } from '../pipeline/store/db.ts';
import { createDrawnAnnotation } from '../pipeline/store/drawn-annotations.ts';
import { listRuns } from '../pipeline/store/runs.ts';
import { upsertSlide } from '../pipeline/store/slides.ts';
import { buildPatchSet, type SlideSource, slideSources } from '../pipeline/train/dataset.ts';
import { DEFAULT_TRAIN } from '../pipeline/train/trainer.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('train-drawn');
const db = join(tmp.path, 's.sqlite');
let store: Store;
let slidePath: string;
let slideId: string;
const P = archGeometry(DEFAULT_TRAIN.arch).receptiveField;
const author = 'Dr Test';

beforeAll(async () => {
  const [info] = await generateSyntheticSet({
    out: tmp.path,
    slides: 1,
    size: 2048,
    seed: 7,
    tumourShare: 0,
    prefix: 'drawn',
    lesions: { large: [0, 0], small: [0, 0], itc: [0, 0] },
  });
  slidePath = join(tmp.path, 'slides', `${info.name}.tif`);
  store = openStore(db);
  const slide = await openSlide(slidePath);
  slideId = upsertSlide(store, slide);
  await slide.close();
}, 120_000);

afterAll(() => {
  store?.close();
  tmp.cleanup();
});

async function patchSet(source: SlideSource) {
  return buildPatchSet([source], { mpp: 1, patchSize: P });
}

describe('training on annotations drawn in the viewer', () => {
  it('labels patches tumour exactly where a tumour polygon was drawn, and drops excluded patches', async () => {
    const [plain] = slideSources([slidePath], undefined);
    const before = await patchSet(plain);
    expect(before.refs.length).toBeGreaterThan(10);
    expect(before.labels.every((l) => l === 0)).toBe(true);
    // A polygon over a block of tissue patches, away from the slide's edges.
    const mid = before.refs[Math.floor(before.refs.length / 2)];
    const s = mid.size;
    const tumour: Ring = [
      [mid.x - s, mid.y - s],
      [mid.x + 2 * s, mid.y - s],
      [mid.x + 2 * s, mid.y + 2 * s],
      [mid.x - s, mid.y + 2 * s],
    ];
    createDrawnAnnotation(store, slideId, { geometry: 'polygon', label: 'tumour', author, coords: tumour });
    createDrawnAnnotation(store, slideId, {
      geometry: 'point',
      label: 'tumour',
      author,
      coords: [[mid.x, mid.y]],
    });
    const drawn = drawnTrainingTruth(store, slideId);
    expect(drawn.tumour).toHaveLength(1); // points are not areas
    const after = await patchSet({ ...plain, ...mergeDrawnTruth(plain.truth, drawn) });
    expect(after.refs.length).toBe(before.refs.length);
    let changed = 0;
    after.refs.forEach((r, i) => {
      const centre = pointInRings(r.x + r.size / 2, r.y + r.size / 2, [tumour]);
      if (centre) expect(after.labels[i], `patch at ${r.x},${r.y}`).toBe(1);
      // Far from the polygon (no part of the patch near it): unchanged.
      const far =
        r.x + r.size < tumour[0][0] ||
        r.x > tumour[1][0] ||
        r.y + r.size < tumour[0][1] ||
        r.y > tumour[2][1];
      if (far) expect(after.labels[i]).toBe(0);
      if (after.labels[i] !== before.labels[i]) changed++;
    });
    expect(changed).toBeGreaterThanOrEqual(4);

    // 'normal' drawn inside the tumour outline: those patches train as normal again.
    const inner: Ring = [
      [mid.x - s, mid.y - s],
      [mid.x + 2 * s, mid.y - s],
      [mid.x + 2 * s, mid.y + s / 2],
      [mid.x - s, mid.y + s / 2],
    ];
    createDrawnAnnotation(store, slideId, { geometry: 'rectangle', label: 'normal', author, coords: inner });
    const corrected = await patchSet({
      ...plain,
      ...mergeDrawnTruth(plain.truth, drawnTrainingTruth(store, slideId)),
    });
    const positives = (set: typeof after) => set.labels.reduce((a, b) => a + b, 0);
    expect(positives(corrected)).toBeLessThan(positives(after));
    expect(positives(corrected)).toBeGreaterThan(0);

    // 'exclude': patches whose centre is inside are left out.
    const r0 = before.refs[0];
    const ex: Ring = [
      [r0.x, r0.y],
      [r0.x + r0.size, r0.y],
      [r0.x + r0.size, r0.y + r0.size],
      [r0.x, r0.y + r0.size],
    ];
    createDrawnAnnotation(store, slideId, { geometry: 'rectangle', label: 'exclude', author, coords: ex });
    const excluded = await patchSet({
      ...plain,
      ...mergeDrawnTruth(plain.truth, drawnTrainingTruth(store, slideId)),
    });
    const inEx = before.refs.filter((r) => pointInRings(r.x + r.size / 2, r.y + r.size / 2, [ex])).length;
    expect(inEx).toBeGreaterThan(0);
    expect(excluded.refs.length).toBe(before.refs.length - inEx);
  }, 120_000);

  it('wsi train --annotations-from-db trains on them without an annotations folder', async () => {
    const out = join(tmp.path, 'model');
    const code = await main([
      'train',
      '--db',
      db,
      '--slides',
      slidePath,
      '--annotations-from-db',
      '--sampler',
      'balanced',
      '--steps',
      '2',
      '--batch',
      '4',
      '--out',
      out,
      '--quiet',
    ]);
    expect(code).toBe(0);
    const run = listRuns(store, 'train').at(-1)!;
    expect(run.status).toBe('done');
    expect(run.config.drawnAnnotations).toEqual([drawnTrainingTruth(store, slideId).digest]);
    // Without the flag and without --annotations the command still asks for the folder.
    expect(
      await main([
        'train',
        '--db',
        db,
        '--slides',
        slidePath,
        '--sampler',
        'balanced',
        '--steps',
        '1',
        '--out',
        out,
      ]),
    ).toBe(1);
  }, 180_000);
});
