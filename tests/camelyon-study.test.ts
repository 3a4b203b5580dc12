/**
 * `wsi camelyon` end to end on a tiny synthetic set (2 training + 2 test slides of 1536², one small lesion
 * per tumour slide, a few CASED steps): the report and the store must be complete, and a second run must
 * resume (every stage skipped or already done) instead of redoing work.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticSet } from '../fixtures/camelyon/generate.ts';
import type { LesionCounts } from '../fixtures/camelyon/scene.ts';
import { main } from '../pipeline/cli.ts';
import { rocAuc } from '../pipeline/eval/auc.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { openStore } from '../pipeline/store/db.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('camelyon');
const trainDir = join(tmp.path, 'train');
const testDir = join(tmp.path, 'test');
const outDir = join(tmp.path, 'out');
const lesions: LesionCounts = { large: [0, 0], small: [1, 1], itc: [0, 0] };
const argv = [
  'camelyon',
  '--train',
  trainDir,
  '--test',
  testDir,
  '--out',
  outDir,
  '--train-steps',
  '3',
  '--train-batch',
  '8',
  '--mil-epochs',
  '3',
  '--workers',
  '1',
];

beforeAll(async () => {
  const common = { slides: 2, size: 1536, tumourShare: 0.5, lesions };
  await generateSyntheticSet({ ...common, out: trainDir, seed: 31, prefix: 'train' });
  await generateSyntheticSet({ ...common, out: testDir, seed: 32, prefix: 'test' });
}, 300_000);
afterAll(() => tmp.cleanup());

function runCount(): number {
  const store = openStore(join(outDir, 'study.sqlite'));
  try {
    return (store.db.prepare('SELECT COUNT(*) AS n FROM runs').get() as { n: number }).n;
  } finally {
    store.close();
  }
}

describe('wsi camelyon', () => {
  it('runs the whole study and leaves a complete report and store; a rerun resumes', async () => {
    expect(await main(argv)).toBe(0);
    const report = readFileSync(join(outDir, 'report.md'), 'utf8');
    for (const section of [
      '## Slide classification (test slides)',
      '| attention-MIL |',
      '| FCN heatmap, slide score = max |',
      '![ROC](roc.png)',
      '## Lesion detection',
      '## Where attention goes',
      '## Top attention patches',
      '| test_001 |',
      '| test_002 |',
    ]) {
      expect(report).toContain(section);
    }
    expect(existsSync(join(outDir, 'roc.png'))).toBe(true);
    const json = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
    // The AUCs are those of the per-slide scores the report lists, over the two test slides and no others
    // (3 training steps cannot promise a quality; a report mixing in other rows or slides fails here).
    const perSlide = json.perSlide as { name: string; label: 0 | 1; fcn: number; mil: number }[];
    expect(perSlide.map((s) => s.name).sort()).toEqual(['test_001', 'test_002']);
    expect(perSlide.map((s) => s.label).sort()).toEqual([0, 1]);
    const labels = perSlide.map((s) => s.label);
    expect(json.milAuc.auc).toBeCloseTo(
      rocAuc(
        perSlide.map((s) => s.mil),
        labels,
      ),
      9,
    );
    expect(json.fcnAuc.auc).toBeCloseTo(
      rocAuc(
        perSlide.map((s) => s.fcn),
        labels,
      ),
      9,
    );
    expect(json.galleries.length).toBe(2);
    for (const g of json.galleries) expect(existsSync(join(outDir, g.file))).toBe(true);
    // Every test slide has an out-of-distribution verdict against the classifier's training slides.
    for (const s of json.perSlide) {
      expect(typeof s.outOfDistribution).toBe('boolean');
      expect(typeof s.oodReason).toBe('string');
    }

    const store = openStore(join(outDir, 'study.sqlite'));
    try {
      const runs = store.db.prepare('SELECT id, kind, status FROM runs ORDER BY id').all() as {
        id: number;
        kind: string;
        status: string;
      }[];
      expect(runs.map((r) => r.kind).sort()).toEqual(['embed', 'infer', 'mil', 'mil-train', 'train']);
      expect(runs.every((r) => r.status === 'done')).toBe(true);
      const run = (kind: string) => runs.find((r) => r.kind === kind)?.id;
      const count = (sql: string, ...args: unknown[]) =>
        (store.db.prepare(sql).get(...args) as { n: number }).n;
      expect(count('SELECT COUNT(*) AS n FROM slides')).toBe(4);
      expect(count('SELECT COUNT(*) AS n FROM models')).toBe(2);
      // Every slide has a heatmap, embeddings, a MIL probability and attention on every embedded patch.
      expect(
        count(
          'SELECT COUNT(DISTINCT slide_id) AS n FROM patches WHERE run_id = ? AND score IS NOT NULL',
          run('infer'),
        ),
      ).toBe(4);
      expect(
        count(
          'SELECT COUNT(DISTINCT slide_id) AS n FROM patches WHERE run_id = ? AND embedding IS NOT NULL',
          run('embed'),
        ),
      ).toBe(4);
      expect(count('SELECT COUNT(*) AS n FROM slide_results WHERE run_id = ?', run('mil'))).toBe(4);
      expect(count('SELECT COUNT(*) AS n FROM patches WHERE run_id = ?', run('mil'))).toBe(
        count('SELECT COUNT(*) AS n FROM patches WHERE run_id = ?', run('embed')),
      );
      const sums = store.db
        .prepare(
          'SELECT SUM(attention) AS s, MAX(attention_norm) AS hi FROM patches WHERE run_id = ? GROUP BY slide_id',
        )
        .all(run('mil')) as { s: number; hi: number }[];
      for (const s of sums) {
        expect(s.s).toBeCloseTo(1, 4);
        expect(s.hi).toBe(1);
      }
      expect(count('SELECT COUNT(*) AS n FROM training_log WHERE run_id = ?', run('mil-train'))).toBe(3);
    } finally {
      store.close();
    }

    // Second run: same runs resumed, nothing added.
    expect(await main(argv)).toBe(0);
    const again = openStore(join(outDir, 'study.sqlite'));
    try {
      const runs = again.db.prepare('SELECT kind, attempts FROM runs ORDER BY id').all() as {
        kind: string;
        attempts: number;
      }[];
      expect(runs.length).toBe(5);
      // train and mil-train were skipped as done; infer, embed and mil resumed their runs.
      expect(
        runs
          .filter((r) => r.attempts === 2)
          .map((r) => r.kind)
          .sort(),
      ).toEqual(['embed', 'infer', 'mil']);
    } finally {
      again.close();
    }

    // Third run, same --out, another test folder whose slides are named like the first (test_001, test_002)
    // but hold other pixels: the report lists the new slides' own scores, never rows of the old ones.
    const testDir2 = join(tmp.path, 'test-b');
    await generateSyntheticSet({
      slides: 2,
      size: 1536,
      tumourShare: 0.5,
      lesions,
      out: testDir2,
      seed: 33,
      prefix: 'test',
    });
    expect(await main(argv.map((a) => (a === testDir ? testDir2 : a)))).toBe(0);
    const second = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
    const check = openStore(join(outDir, 'study.sqlite'));
    try {
      expect((check.db.prepare('SELECT COUNT(*) AS n FROM slides').get() as { n: number }).n).toBe(6);
      const ids = new Map<string, string>();
      for (const name of ['test_001', 'test_002']) {
        const slide = await openSlide(join(testDir2, 'slides', `${name}.tif`));
        ids.set(name, slide.id);
        await slide.close();
      }
      const scoreOf = (kind: string, id: string) =>
        (
          check.db
            .prepare(
              `SELECT r.score FROM slide_results r JOIN runs u ON u.id = r.run_id
               WHERE u.kind = ? AND r.slide_id = ? ORDER BY u.id DESC LIMIT 1`,
            )
            .get(kind, id) as { score: number }
        ).score;
      const listed = second.perSlide as { name: string; fcn: number; mil: number }[];
      expect(listed.map((s) => s.name).sort()).toEqual(['test_001', 'test_002']);
      for (const s of listed) {
        expect(s.fcn).toBeCloseTo(scoreOf('infer', ids.get(s.name) as string), 9);
        expect(s.mil).toBeCloseTo(scoreOf('mil', ids.get(s.name) as string), 9);
      }
    } finally {
      check.close();
    }
    // Fourth run, same --out with another seed: refused in one line before any work (the classifier in
    // OUT was trained with seed 1; "already trained" must not reuse it), and the store is unchanged.
    const runsBefore = runCount();
    expect(await main([...argv, '--seed', '2'])).toBe(1);
    expect(runCount()).toBe(runsBefore);
    // Three full studies (train, heatmaps, out-of-distribution statistics, embeddings, MIL) on a loaded machine.
  }, 300_000);

  it('refuses folders that are not CAMELYON-style with a one-line error', async () => {
    expect(
      await main(['camelyon', '--train', join(tmp.path, 'nope'), '--test', testDir, '--out', outDir]),
    ).toBe(1);
    expect(await main(['camelyon', '--train', trainDir, '--test', trainDir, '--out', outDir])).toBe(1);
  });
});
