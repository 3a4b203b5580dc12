/**
 * `wsi mil infer` gives every slide it scores an out-of-distribution verdict against the statistics of the
 * MIL model's training slides (saved in mil.json by `wsi mil train`): a slide rendered 4× smaller than its
 * stated µm/px is flagged with a reason that says to check the µm/px, a held-out slide of the training
 * centre is not; one verdict per (run, slide) across reruns and redone slides; the CLI prints each slide's
 * score with its warning on the same line.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { slideScoreLine } from '../pipeline/commands/mil.ts';
import { SlideNotFoundError } from '../pipeline/errors.ts';
import { registeredSlideStats } from '../pipeline/ood/model.ts';
import { readOodVerdicts } from '../pipeline/ood/store.ts';
import { inferMilToStore } from '../pipeline/stages/mil-infer.ts';
import { buildMilOodFixture, type MilOodFixture } from './fixtures/mil-ood-fixture.ts';
import { repoRoot, tempDir } from './helpers/paths.ts';

const tmp = tempDir('mil-ood');
let fx: MilOodFixture;

beforeAll(async () => {
  fx = await buildMilOodFixture(tmp.path);
}, 300_000);
afterAll(() => {
  fx?.store.close();
  tmp.cleanup();
});

const verdictRows = (runId: number) =>
  (
    fx.store.db.prepare('SELECT COUNT(*) AS n FROM slide_ood WHERE run_id = ?').get(runId) as {
      n: number;
    }
  ).n;

describe('mil infer: out-of-distribution verdicts', () => {
  it('saves the training slides’ statistics with the MIL model', () => {
    const sidecar = JSON.parse(readFileSync(join(fx.milDir, 'mil.json'), 'utf8'));
    expect(sidecar.ood.slides).toBe(4);
    expect(sidecar.ood.nucleusUm.median).toBeGreaterThan(3);
  });

  it('flags the wrong-scale slide with a µm/px reason and passes the held-out slide', () => {
    const scores = new Map(fx.milResult.scores.map((s) => [s.slideId, s]));
    expect(fx.milResult.oodReference).toBe(true);
    expect(scores.size).toBe(6);
    const wrong = scores.get(fx.wrongScale);
    expect(wrong?.ood?.outOfDistribution).toBe(true);
    expect(wrong?.ood?.reason).toMatch(
      /nuclei look [\d.]+× smaller than in training .*check the slide's µm\/px/,
    );
    const held = scores.get(fx.held);
    expect(held?.ood).toEqual({ slideId: fx.held, outOfDistribution: false, reason: '' });
    // The verdict is in the store with the run, and in the slide's result details.
    expect(readOodVerdicts(fx.store, fx.milRunId).get(fx.wrongScale)?.outOfDistribution).toBe(true);
    const details = fx.store.db
      .prepare('SELECT details_json FROM slide_results WHERE run_id = ? AND slide_id = ?')
      .get(fx.milRunId, fx.wrongScale) as { details_json: string };
    expect(JSON.parse(details.details_json).ood.outOfDistribution).toBe(true);
  });

  it('keeps one verdict per slide over a rerun and a slide redone after a crash', async () => {
    expect(verdictRows(fx.milRunId)).toBe(6);
    const again = await inferMilToStore(fx.store, { modelDir: fx.milDir, embedRun: fx.embedRunId });
    expect(again.runId).toBe(fx.milRunId);
    expect(again.skipped).toBe(6);
    expect(verdictRows(fx.milRunId)).toBe(6);
    // Skipped slides are still reported with their stored verdicts.
    expect(again.scores.find((s) => s.slideId === fx.wrongScale)?.ood?.outOfDistribution).toBe(true);
    // A crash after the verdict but before the done mark: the slide is redone, its verdict replaced.
    fx.store.db
      .prepare('DELETE FROM run_slides WHERE run_id = ? AND slide_id = ?')
      .run(fx.milRunId, fx.wrongScale);
    const redo = await inferMilToStore(fx.store, { modelDir: fx.milDir, embedRun: fx.embedRunId });
    expect(redo.slides).toBe(1);
    expect(verdictRows(fx.milRunId)).toBe(6);
    expect(redo.scores.find((s) => s.slideId === fx.wrongScale)?.ood?.outOfDistribution).toBe(true);
  });

  it('reuses a slide’s stored measurement, and refuses a slide it can neither find measured nor read', async () => {
    // Every fixture slide was measured once (training or inference): its file is not needed again.
    const stored = fx.store.db
      .prepare('SELECT stats_json FROM slide_ood WHERE run_id = ? AND slide_id = ?')
      .get(fx.milRunId, fx.held) as { stats_json: string };
    const path = fx.paths.get(fx.held) as string;
    fx.store.db.prepare('UPDATE slides SET path = ? WHERE id = ?').run('/nonexistent/held.tif', fx.held);
    try {
      expect((await registeredSlideStats(fx.store, fx.held)).stats).toEqual(JSON.parse(stored.stats_json));
      fx.store.db
        .prepare(
          `INSERT INTO slides (id, path, name, format, width, height, levels_json)
           VALUES ('never-measured', '/nonexistent/x.tif', 'x.tif', 'generic-tiff', 10, 10, '[]')`,
        )
        .run();
      await expect(registeredSlideStats(fx.store, 'never-measured')).rejects.toThrow(SlideNotFoundError);
    } finally {
      fx.store.db.prepare('UPDATE slides SET path = ? WHERE id = ?').run(path, fx.held);
    }
  });

  it('prints each slide’s score with its warning on the same line', () => {
    expect(slideScoreLine('a.tif', 0.93, { outOfDistribution: true, reason: 'nuclei …' })).toBe(
      'a.tif: p=0.9300  OUT OF DISTRIBUTION: nuclei …',
    );
    expect(slideScoreLine('b.tif', 0.1, { outOfDistribution: false, reason: '' })).toBe('b.tif: p=0.1000');
    const r = spawnSync(
      process.execPath,
      [join(repoRoot, 'bin/wsi.js'), 'mil', 'infer', '--db', fx.dbPath, '--model', fx.milDir],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    const wrong = lines.find((l) => l.startsWith('wrong_001.tif: p='));
    expect(wrong).toMatch(
      /^wrong_001\.tif: p=[\d.]+ {2}OUT OF DISTRIBUTION: nuclei look [\d.]+× smaller.*µm\/px/,
    );
    expect(lines.find((l) => l.startsWith('held_001.tif: p='))).toMatch(/^held_001\.tif: p=[\d.]+$/);
  });
});
