/** `wsi audit`: a group made harder is flagged, the others are not; the CLI on a tiny store. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type AuditSlide, auditGroups, calibration } from '../pipeline/audit/metrics.ts';
import { command } from '../pipeline/commands/audit.ts';
import { writeOodVerdict } from '../pipeline/ood/store.ts';
import { beginRun, openStore } from '../pipeline/store/index.ts';
import { createRng } from '../pipeline/util/rng.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('audit');
afterAll(() => tmp.cleanup());

/** `n` slides per group, half tumour; scores = sigmoid(separation × (label − ½) + noise). */
function synthetic(groups: Record<string, { n: number; separation: number }>, seed: number): AuditSlide[] {
  const rng = createRng(seed);
  const out: AuditSlide[] = [];
  for (const [group, { n, separation }] of Object.entries(groups))
    for (let i = 0; i < n; i++) {
      const label = (i % 2) as 0 | 1;
      const z = separation * (label - 0.5) + rng.normal();
      out.push({ name: `${group}-${i}`, group, label, score: 1 / (1 + Math.exp(-z)) });
    }
  return out;
}

describe('audit metrics', () => {
  it('flags the harder centre and not the others, over several seeds', () => {
    for (const seed of [1, 2, 3]) {
      const r = auditGroups(
        synthetic(
          { a: { n: 60, separation: 4 }, b: { n: 60, separation: 4 }, hard: { n: 60, separation: 1 } },
          seed,
        ),
        { bootstrap: 500 },
      );
      const by = new Map(r.groups.map((g) => [g.group, g]));
      expect(by.get('hard')?.flagged).toBe(true);
      expect(by.get('a')?.flagged).toBe(false);
      expect(by.get('b')?.flagged).toBe(false);
      expect(by.get('hard')?.auc?.ci95[1]).toBeLessThan(by.get('a')?.auc?.auc ?? 0);
    }
  });

  it('computes sensitivity, specificity and ECE exactly on a small case', () => {
    const s: AuditSlide[] = [
      { name: 'a', group: 'g', label: 1, score: 0.9 },
      { name: 'b', group: 'g', label: 1, score: 0.3 },
      { name: 'c', group: 'g', label: 0, score: 0.2 },
      { name: 'd', group: 'g', label: 0, score: 0.95 },
    ];
    const r = auditGroups(s, { bootstrap: 100 });
    expect(r.groups[0].sensitivity).toBe(0.5);
    expect(r.groups[0].specificity).toBe(0.5);
    // Bins: [0.2,0.3) {0.2: 0}, [0.3,0.4) {0.3: 1}, [0.9,1] {0.9: 1, 0.95: 0}.
    expect(calibration(s).ece).toBeCloseTo((0.2 + 0.7 + 2 * Math.abs(0.925 - 0.5)) / 4, 10);
    expect(r.groups[0].pLower).toBeNull(); // no other slides to compare with
  });
});

describe('wsi audit (CLI)', () => {
  it('writes the report, plot and JSON from a store, with OOD shares and the hard group flagged', async () => {
    const db = join(tmp.path, 's.sqlite');
    const store = openStore(db);
    const slides = synthetic({ a: { n: 40, separation: 4 }, hard: { n: 40, separation: 0.5 } }, 7);
    const { runId } = beginRun(store, 'infer', { audit: 'test' });
    const insertSlide = store.db.prepare(
      `INSERT INTO slides (id, path, name, format, width, height, levels_json) VALUES (?, ?, ?, 'tiff', 1, 1, '[]')`,
    );
    const insertScore = store.db.prepare(
      'INSERT INTO slide_results (run_id, slide_id, score) VALUES (?, ?, ?)',
    );
    slides.forEach((s, i) => {
      insertSlide.run(`id${i}`, `/x/${s.name}.tif`, `${s.name}.tif`);
      insertScore.run(runId, `id${i}`, s.score);
      if (s.group === 'hard')
        writeOodVerdict(store, runId, `id${i}`, {
          outOfDistribution: i % 4 === 0,
          reason: i % 4 === 0 ? 'stain' : '',
          stats: { h: [1, 0, 0], e: [0, 1, 0], maxConc: [1, 1] },
        });
    });
    store.close();
    const groups = join(tmp.path, 'groups.csv');
    writeFileSync(
      groups,
      `slide,centre,label\n${slides.map((s) => `${s.name}.tif,${s.group},${s.label ? 'Tumor' : 'Normal'}`).join('\n')}\nextra,a,Normal\n`,
    );
    const out = join(tmp.path, 'audit');
    const write = process.stdout.write.bind(process.stdout);
    let printed = '';
    process.stdout.write = ((s: string) => {
      printed += s;
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(
        await command.run([
          '--db',
          db,
          '--run',
          String(runId),
          '--groups',
          groups,
          '--out',
          out,
          '--bootstrap',
          '500',
        ]),
      ).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(printed).toMatch(/hard: 40 slides, AUC [\d.]+ LOWER than the rest/);
    expect(printed).not.toMatch(/^a: .*LOWER/m);
    const json = JSON.parse(readFileSync(join(out, 'audit.json'), 'utf8'));
    const hard = json.groups.find((g: { group: string }) => g.group === 'hard');
    expect(hard.oodShare).toBeCloseTo(0.25, 5);
    expect(json.groups.find((g: { group: string }) => g.group === 'a').oodShare).toBeNull();
    expect(readFileSync(join(out, 'audit.md'), 'utf8')).toMatch(/\| hard \| 40 \(20\) \|/);
    expect(existsSync(join(out, 'reliability.png'))).toBe(true);
    await expect(command.run(['--db', db, '--run', '999', '--groups', groups, '--out', out])).rejects.toThrow(
      /no slide scores/,
    );
    await expect(
      command.run(['--db', db, '--run', String(runId), '--groups', join(tmp.path, 'nope.csv')]),
    ).rejects.toThrow(/not found/);
  });
});
