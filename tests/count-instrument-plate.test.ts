import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  generateInstrumentPlate,
  type InstrumentLayout,
  type InstrumentPlate,
} from '../fixtures/plate/instrument.ts';
import { runCount } from '../pipeline/counting/count-run.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { repoRoot, tempDir } from './helpers/paths.ts';

const runCli = promisify(execFile);
const wsi = path.join(repoRoot, 'bin/wsi.js');

/** `wsi count` in this process (no node start-up per run); returns what it wrote to stderr. */
async function count(argv: string[]): Promise<{ stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  try {
    await runCount(argv);
  } finally {
    spy.mockRestore();
  }
  return { stderr };
}
const tmp = tempDir('instrument-plate');
afterAll(() => tmp.cleanup());

const csv = (file: string) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\r\n')
    .map((l) => l.split(','));

/** Z′ by hand from the generator's true counts: well means over the fields QC must keep. */
function zPrimeByHand(t: InstrumentPlate): number {
  const wellMean = new Map<string, { role: string; sum: number; n: number }>();
  for (const f of t.fields) {
    if (f.flags.length) continue;
    const w = wellMean.get(f.well) ?? { role: f.role, sum: 0, n: 0 };
    w.sum += f.count;
    w.n++;
    wellMean.set(f.well, w);
  }
  const of = (role: string) => [...wellMean.values()].filter((w) => w.role === role).map((w) => w.sum / w.n);
  const stats = (v: number[]) => {
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return { m, s: Math.sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / (v.length - 1)) };
  };
  const p = stats(of('positive'));
  const n = stats(of('negative'));
  return 1 - (3 * (p.s + n.s)) / Math.abs(p.m - n.m);
}

// Each case runs the whole batch counter (pool start-up included): minutes, not seconds, on a loaded machine.
describe('wsi count on synthetic 384-well plates as instruments write them', { timeout: 300_000 }, () => {
  const plates = new Map<InstrumentLayout, InstrumentPlate>();
  const dirOf = (l: InstrumentLayout) => path.join(tmp.path, l);
  beforeAll(() => {
    // Two rows of the 384-well format keep the test in seconds: 48 wells × 2 fields × 2 channels.
    for (const layout of ['imagexpress', 'operetta', 'multipage'] as const) {
      plates.set(layout, generateInstrumentPlate(dirOf(layout), { layout, rows: 2, fields: 2, size: 80 }));
    }
  });

  it('ImageXpress names: exact counts on the DAPI channel, blurred and empty fields flagged, Z′ as by hand; store and resume', async () => {
    const t = plates.get('imagexpress')!;
    const out = path.join(tmp.path, 'ix', 'counts.csv');
    const db = path.join(tmp.path, 'ix.sqlite');
    const args = [dirOf('imagexpress'), '--out', out, '--plate', '384', '--workers', '2'];
    const full = [...args, '--plate-map', t.plateMap, '--db', db];
    // Through the CLI once: the summary lines are what a user reads.
    const { stderr } = await runCli('node', [wsi, 'count', ...full], { cwd: repoRoot });
    expect(stderr).toMatch(/counting channel 1 \(DAPI\): the nuclear stain/);
    expect(stderr).toMatch(/counter: 96 image\(s\) watershed \(watershed:fluorescence\)/);
    expect(stderr).toMatch(
      /QC: 2 of 96 fields flagged \(1 out_of_focus, 1 empty\); left out of the well means/,
    );
    expect(stderr).toMatch(/images\/s/);

    const rows = csv(out);
    expect(rows[0]).toEqual([
      'image',
      'plate',
      'well',
      'row',
      'column',
      'field',
      'count',
      'mean_area',
      'method',
      'model',
      'channel',
      'focus',
      'saturated',
      'qc_flags',
    ]);
    expect(rows.length - 1).toBe(t.fields.length);
    const byImage = new Map(rows.slice(1).map((r) => [r[0], r]));
    for (const f of t.fields) {
      const r = byImage.get(f.file)!;
      expect(r.slice(2, 6)).toEqual([f.well, String(f.row + 1), String(f.col + 1), String(f.field)]);
      // Exact on every field the generator drew sharp (the blurred one is flagged, not judged on count).
      if (!f.flags.includes('out_of_focus')) expect(Number(r[6])).toBe(f.count);
      expect(r[10]).toBe('1 (DAPI)');
      expect(r[13]).toBe(f.flags.join('+'));
    }

    const wells = csv(out.replace(/\.csv$/, '.wells.csv'));
    const a01 = wells.find((r) => r[1] === 'A01')!;
    const truthA01 = t.fields.filter((f) => f.well === 'A01');
    expect(a01.slice(4, 9)).toEqual(['DMSO', '0', 'negative', '2', '1']);
    expect(a01[10]).toBe('f2:out_of_focus');
    expect(Number(a01[11])).toBe(truthA01[0].count);
    const plate = csv(out.replace(/\.csv$/, '.plates.csv'));
    expect(plate[0][1]).toBe('z_prime');
    const expected = zPrimeByHand(t);
    expect(Number(plate[1][1])).toBeCloseTo(expected, 3);

    const read = () => {
      const d = new Database(db, { readonly: true });
      try {
        return {
          z: (d.prepare('SELECT z_prime z FROM plate_stats').get() as { z: number }).z,
          flagged: d.prepare("SELECT flags FROM field_qc WHERE flags != '' ORDER BY flags").all(),
          methods: d.prepare('SELECT DISTINCT method, model_id, channel FROM field_qc').all(),
          wells: (d.prepare('SELECT COUNT(*) n FROM well_stats').get() as { n: number }).n,
          runs: d.prepare('SELECT status, attempts FROM runs').all(),
        };
      } finally {
        d.close();
      }
    };
    const first = read();
    expect(first.z).toBeCloseTo(expected, 12);
    expect(first.flagged).toEqual([{ flags: 'empty' }, { flags: 'out_of_focus' }]);
    expect(first.methods).toEqual([
      { method: 'watershed', model_id: 'watershed:fluorescence', channel: '1 (DAPI)' },
    ]);
    expect(first.wells).toBe(48);
    // A re-run resumes every field from the store and writes the same results.
    const before = readFileSync(out, 'utf8');
    await count(full);
    expect(readFileSync(out, 'utf8')).toBe(before);
    expect(read().runs).toEqual([{ status: 'done', attempts: 2 }]);

    // --keep-flagged puts the flagged fields back into the means, and says so.
    const kept = await count([...args, '--keep-flagged', '--quiet']);
    expect(kept.stderr).toBe('');
    const keptA01 = csv(out.replace(/\.csv$/, '.wells.csv')).find((r) => r[1] === 'A01')!;
    expect(keptA01[8]).toBe('2');
  });

  it('Operetta / Opera Phenix names pick the Hoechst channel by name; counting the other channel gives other counts', async () => {
    const t = plates.get('operetta')!;
    const out = path.join(tmp.path, 'op.csv');
    await count([dirOf('operetta'), '--out', out, '--plate', '384', '--channel', 'hoechst', '--quiet']);
    const byImage = new Map(
      csv(out)
        .slice(1)
        .map((r) => [r[0], r]),
    );
    for (const f of t.fields) {
      const r = byImage.get(f.file)!;
      expect(r[2]).toBe(f.well);
      if (!f.flags.length) expect(Number(r[6])).toBe(f.count);
      expect(r[10]).toBe('1 (HOECHST 33342)');
    }
    const other = path.join(tmp.path, 'op2.csv');
    await count([dirOf('operetta'), '--out', other, '--plate', '384', '--channel', '2', '--quiet']);
    const rows2 = csv(other).slice(1);
    expect(rows2.every((r) => /-ch2/.test(r[0]) && r[10] === '2 (Alexa 488)')).toBe(true);
    const wrong = rows2.filter((r) => {
      const f = t.fields.find((x) => x.file === r[0].replace('-ch2', '-ch1'))!;
      return Number(r[6]) !== f.count;
    });
    expect(wrong.length).toBeGreaterThan(t.fields.length / 4);
  });

  it('multi-page TIFF fields: --channel 1 counts the nuclear page exactly', async () => {
    const t = plates.get('multipage')!;
    const out = path.join(tmp.path, 'mp.csv');
    await count([dirOf('multipage'), '--out', out, '--plate', '384', '--channel', '1', '--quiet']);
    const byImage = new Map(
      csv(out)
        .slice(1)
        .map((r) => [r[0], r]),
    );
    for (const f of t.fields) {
      const r = byImage.get(f.file)!;
      if (!f.flags.length) expect(Number(r[6])).toBe(f.count);
      expect(r[13]).toBe(f.flags.join('+'));
    }
  });

  it('refuses a bad channel, a bad plate map and a bad method with one-line named errors', async () => {
    const dir = dirOf('imagexpress');
    const out = path.join(tmp.path, 'x.csv');
    const cases: [string[], RegExp][] = [
      [
        [dir, '--out', out, '--plate', '384', '--channel', 'cy5'],
        /no channel of that name \(channel names: 1=DAPI, 2=FITC\)/,
      ],
      [[dir, '--out', out, '--plate', '384', '--channel', '3'], /have channels 1, 2/],
      [[dir, '--out', out, '--plate', '384', '--plate-map', path.join(dir, 'nope.csv')], /cannot read/],
      [[dir, '--out', out, '--method', 'magic'], /--method must be auto, watershed, density, he-watershed/],
    ];
    for (const [argv, message] of cases) {
      await expect(runCount(argv)).rejects.toThrow(message);
      await expect(runCount(argv)).rejects.toBeInstanceOf(ConfigError);
    }
  });
});
