/**
 * `wsi export slides` → CAMELYON17 `stages.csv` from a run's stored patch scores, end to end through the
 * CLI: real synthetic slides named patient_XXX_node_Y, a heatmap run whose tumour regions have known
 * extents (none, one patch, a 240 µm strip, a 2.5 mm strip), classes by longest diameter and each patient's
 * pN stage by the challenge's rules, in its submission layout.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticSet } from '../fixtures/camelyon/generate.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { openStore } from '../pipeline/store/db.ts';
import { beginRun, finishRun } from '../pipeline/store/runs.ts';
import { upsertSlide } from '../pipeline/store/slides.ts';
import { tempDir } from './helpers/paths.ts';
import { runWsi } from './helpers/run-cli.ts';

const tmp = tempDir('export-c17');
const db = join(tmp.path, 'c17.sqlite');
let runId = 0;

/**
 * A `cols` × `rows` grid of `size`-px patches scoring 0.1, but for the first `tumour` patches of the middle
 * row, which score `score` (a run's patches share one size; the lattice places one patch per cell).
 */
function grid(cols: number, rows: number, size: number, tumour: number, score = 0.9) {
  const mid = Math.floor(rows / 2);
  return Array.from({ length: cols * rows }, (_, i) => {
    const col = i % cols;
    const row = Math.floor(i / cols);
    return { x: col * size, y: row * size, size, score: row === mid && col < tumour ? score : 0.1 };
  });
}

beforeAll(async () => {
  const none = { large: [0, 0], small: [0, 0], itc: [0, 0] } as const;
  const common = { size: 1024, tumourShare: 0, lesions: { ...none } as never };
  await generateSyntheticSet({
    ...common,
    slides: 4,
    out: join(tmp.path, 'p4'),
    seed: 41,
    prefix: 'patient_004_node',
  });
  await generateSyntheticSet({
    ...common,
    slides: 2,
    out: join(tmp.path, 'p5'),
    seed: 42,
    prefix: 'patient_005_node',
  });
  const store = openStore(db);
  try {
    runId = beginRun(store, 'infer', { test: 'camelyon17' }).runId;
    // At 0.25 µm/px: one 64 px patch is 16 µm; 16 in a row about 256 µm; 20 of 512 px about 2.6 mm.
    const patches: Record<string, ReturnType<typeof grid>> = {
      patient_004_node_001: grid(8, 8, 64, 0),
      patient_004_node_002: grid(8, 8, 64, 1), // isolated tumour cells
      patient_004_node_003: grid(20, 4, 64, 16), // micrometastasis
      patient_004_node_004: grid(24, 3, 512, 20), // macrometastasis
      patient_005_node_001: grid(8, 8, 64, 2, 0.8), // itc
      patient_005_node_002: grid(8, 8, 64, 0),
    };
    const insert = store.db.prepare(
      'INSERT INTO patches (run_id, slide_id, x, y, width, height, score) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    for (const [dir, names] of [
      ['p4', ['001', '002', '003', '004']],
      ['p5', ['001', '002']],
    ] as const) {
      for (const n of names) {
        const name = `${dir === 'p4' ? 'patient_004' : 'patient_005'}_node_${n}`;
        const slide = await openSlide(join(tmp.path, dir, 'slides', `${name}.tif`));
        const id = upsertSlide(store, slide);
        await slide.close();
        for (const p of patches[name]) insert.run(runId, id, p.x, p.y, p.size, p.size, p.score);
      }
    }
    finishRun(store, runId, {});
  } finally {
    store.close();
  }
}, 120_000);
afterAll(() => tmp.cleanup());

describe('wsi export slides: CAMELYON17 stages', () => {
  it('classes each node by its largest region and stages each patient', async () => {
    const out = join(tmp.path, 'out');
    const r = await runWsi('export', 'slides', '--db', db, '--run', String(runId), '-o', out);
    expect(r.code).toBe(0);
    const lines = readFileSync(join(out, 'stages.csv'), 'utf8').trim().split('\r\n');
    expect(lines).toEqual([
      'patient,stage',
      'patient_004.zip,pN1', // one macro + one micro: 2 positive nodes, one of them macro
      'patient_005.zip,pN0(i+)', // isolated tumour cells only
      'patient_004_node_001.tif,negative',
      'patient_004_node_002.tif,itc',
      'patient_004_node_003.tif,micro',
      'patient_004_node_004.tif,macro',
      'patient_005_node_001.tif,itc',
      'patient_005_node_002.tif,negative',
    ]);
    // A stricter threshold than the tumour scores: every node negative, every patient pN0.
    const strict = await runWsi(
      'export',
      'slides',
      '--db',
      db,
      '--run',
      String(runId),
      '-o',
      out,
      '--threshold',
      '0.95',
    );
    expect(strict.code).toBe(0);
    const stages = readFileSync(join(out, 'stages.csv'), 'utf8').trim().split('\r\n');
    expect(stages.slice(1, 3)).toEqual(['patient_004.zip,pN0', 'patient_005.zip,pN0']);
  });
});
