import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generatePlate, type SyntheticPlate } from '../fixtures/plate/generate.ts';
import { command as countCommand } from '../pipeline/commands/count.ts';
import { countsCsv } from '../pipeline/counting/csv.ts';
import { aggregateWells, compileWellPattern, parseWell } from '../pipeline/counting/plate.ts';
import { ConfigError, WsiError } from '../pipeline/errors.ts';
import { csvField } from '../pipeline/io/csv.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const wsi = path.join(repoRoot, 'bin/wsi.js');

describe('well ids from file names', () => {
  it('reads A01, A1, r01c01f02 and _B07_s2 styles on 96- and 384-well plates', () => {
    expect(parseWell('plate1_A01.png')).toEqual({ well: 'A01', row: 0, col: 0, field: 1 });
    expect(parseWell('A1.tif')).toEqual({ well: 'A01', row: 0, col: 0, field: 1 });
    expect(parseWell('exp3_B07_s2.png')).toEqual({ well: 'B07', row: 1, col: 6, field: 2 });
    expect(parseWell('r02c03f04p01-ch1.tiff')).toEqual({ well: 'B03', row: 1, col: 2, field: 4 });
    expect(parseWell('scan_P24_f3.png', 384)).toEqual({ well: 'P24', row: 15, col: 23, field: 3 });
    expect(parseWell('001cell.png')).toBeUndefined();
    expect(parseWell('BM_GRAZ_HE_0001_01_000.png')).toBeUndefined();
  });

  it('refuses wells outside the plate and bad patterns with ConfigError', () => {
    expect(() => parseWell('x_P24.png', 96)).toThrow(ConfigError);
    expect(() => parseWell('x_A13.png', 96)).toThrow(/outside a 96-well plate/);
    expect(() => compileWellPattern('(unclosed')).toThrow(ConfigError);
    expect(() => compileWellPattern('img(\\d+)')).toThrow(/named group/);
  });

  it('takes a custom pattern with named groups', () => {
    const re = compileWellPattern('^(?<plate>P\\d+)-(?<row>\\d+)-(?<col>\\d+)-(?<field>\\d+)$');
    expect(parseWell('P7-3-11-2.png', 96, re)).toEqual({ well: 'C11', row: 2, col: 10, field: 2 });
  });
});

describe('CSV and aggregation', () => {
  it('quotes per RFC 4180 and neutralises spreadsheet formulas', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('=cmd()')).toBe("'=cmd()");
    const csv = countsCsv([
      {
        image: 'p_A01_s1.png',
        plate: 'p',
        well: 'A01',
        row: 0,
        col: 0,
        field: 1,
        count: 12,
        meanArea: 80.25,
      },
      { image: 'odd, name.png', count: 3 },
    ]);
    expect(csv).toBe(
      'image,plate,well,row,column,field,count,mean_area,method,model,channel,focus,saturated,qc_flags\r\np_A01_s1.png,p,A01,1,1,1,12,80.25,,,,,,\r\n"odd, name.png",,,,,,3,,,,,,,\r\n',
    );
  });

  it('sums fields per well and weights mean area by cell count', () => {
    const wells = aggregateWells([
      { plate: 'p', well: 'A01', row: 0, col: 0, field: 1, count: 10, meanArea: 100 },
      { plate: 'p', well: 'A01', row: 0, col: 0, field: 2, count: 30, meanArea: 60 },
      { plate: 'p', well: 'B02', row: 1, col: 1, field: 1, count: 0 },
    ]);
    expect(wells).toEqual([
      { plate: 'p', well: 'A01', row: 0, col: 0, fields: 2, count: 40, meanArea: 70 },
      { plate: 'p', well: 'B02', row: 1, col: 1, fields: 1, count: 0, meanArea: undefined },
    ]);
  });
});

describe('wsi count on a synthetic plate (end to end)', () => {
  let dir: string;
  let truth: SyntheticPlate;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'wsi-plate-'));
    // 2 rows × 6 columns × 2 fields: the control column and five doses, down to empty fields.
    truth = await generatePlate(path.join(dir, 'plate1'), {
      rows: 2,
      cols: 6,
      fields: 2,
      top: 40,
      ic50: 0.05,
    });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts every field exactly, aggregates wells, writes CSV, heatmap and store rows; a re-run resumes', async () => {
    const out = path.join(dir, 'counts.csv');
    const db = path.join(dir, 'results.sqlite');
    const args = [
      wsi,
      'count',
      path.join(dir, 'plate1'),
      '--out',
      out,
      '--db',
      db,
      '--workers',
      '2',
      '--quiet',
      // Exact counts of separated synthetic nuclei: the watershed (auto would pick the VGG density model).
      '--method',
      'watershed',
    ];
    await run('node', args, { cwd: repoRoot });
    const lines = readFileSync(out, 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe(
      'image,plate,well,row,column,field,count,mean_area,method,model,channel,focus,saturated,qc_flags',
    );
    expect(lines.length - 1).toBe(truth.fields.length);
    const counted = new Map(lines.slice(1).map((l) => [l.split(',')[0], l.split(',')]));
    for (const f of truth.fields) {
      const row = counted.get(f.image)!;
      expect(row.slice(1, 6)).toEqual([
        'plate1',
        f.well,
        String(f.row + 1),
        String(f.col + 1),
        String(f.field),
      ]);
      expect(Number(row[6])).toBe(f.count);
    }
    // The dose-response survives: the control column has more cells than the highest dose.
    expect(
      truth.fields.some((f) => f.count === 0) || truth.fields.at(-1)!.count < truth.fields[0].count,
    ).toBe(true);
    const heat = await sharp(path.join(dir, 'counts.heatmap.png')).metadata();
    expect(heat.format).toBe('png');

    const read = () => {
      const d = new Database(db, { readonly: true });
      try {
        return {
          counts: (d.prepare('SELECT COUNT(*) n FROM counts').get() as { n: number }).n,
          cells: (d.prepare('SELECT COUNT(*) n FROM cells').get() as { n: number }).n,
          rtree: (d.prepare('SELECT COUNT(*) n FROM cells_rtree').get() as { n: number }).n,
          wells: d.prepare('SELECT well, fields, count FROM wells ORDER BY row, col').all() as {
            well: string;
            fields: number;
            count: number;
          }[],
          runs: d.prepare('SELECT status, attempts FROM runs').all() as {
            status: string;
            attempts: number;
          }[],
        };
      } finally {
        d.close();
      }
    };
    const first = read();
    const totalCells = truth.fields.reduce((s, f) => s + f.count, 0);
    expect(first.counts).toBe(truth.fields.length);
    expect(first.cells).toBe(totalCells);
    expect(first.rtree).toBe(totalCells);
    expect(first.wells.length).toBe(12);
    expect(first.wells[0]).toEqual({ well: 'A01', fields: 2, count: 80 });
    expect(first.runs).toEqual([{ status: 'done', attempts: 1 }]);

    await run('node', args, { cwd: repoRoot });
    const second = read();
    expect(second.cells).toBe(totalCells);
    expect(second.counts).toBe(first.counts);
    expect(second.runs).toEqual([{ status: 'done', attempts: 2 }]);
    expect(readFileSync(out, 'utf8').trim().split('\r\n').length - 1).toBe(truth.fields.length);
  });

  it('leaves plate columns empty for non-plate images; --method auto picks the counter per image and records it', async () => {
    const out = path.join(dir, 'vgg.csv');
    const vgg = path.resolve(repoRoot, '../shared/data/counting/vgg-cells/001cell.png');
    const mbm = path.resolve(repoRoot, '../shared/data/counting/mbm/BM_GRAZ_HE_0001_01_000.png');
    const { stderr } = await run('node', [wsi, 'count', vgg, mbm, '--out', out, '--workers', '1'], {
      cwd: repoRoot,
    });
    const lines = readFileSync(out, 'utf8').trim().split('\r\n');
    const rows = [
      lines[0],
      lines.find((l) => l.startsWith('001cell'))!,
      lines.find((l) => l.startsWith('BM_'))!,
    ];
    // Fluorescence (VGG) → the shipped density model; brightfield H&E (MBM) → the shipped H&E counter.
    expect(rows[1]).toMatch(/^001cell\.png,,,,,,[\d.]+,,density,density-vgg@[0-9a-f]{8},,[\d.]+,[\d.]+,$/);
    expect(rows[2]).toMatch(
      /^BM_GRAZ_HE_0001_01_000\.png,,,,,,\d+,[\d.]+,he-watershed,he-watershed@[0-9a-f]{8},,[\d.]+,,$/,
    );
    expect(stderr).toMatch(/counter: .*1 image\(s\) density \(density-vgg@[0-9a-f]{8}\)/);
    expect(stderr).toMatch(/counter: .*1 image\(s\) he-watershed \(he-watershed@[0-9a-f]{8}\)/);
    expect(existsSync(path.join(dir, 'vgg.heatmap.png'))).toBe(false);
  });

  it('refuses bad flags and inputs with named errors, printed as one line by the CLI', async () => {
    const cases: [string[], RegExp][] = [
      [[path.join(dir, 'plate1'), '--out', 'x.csv', '--plate', '48'], /--plate must be 96 or 384/],
      [
        [path.join(dir, 'plate1'), '--out', 'x.csv', '--method', 'magic'],
        /--method must be auto, watershed, density, he-watershed/,
      ],
      [[path.join(dir, 'nope'), '--out', 'x.csv'], /no such file or folder/],
      [[path.join(dir, 'plate1')], /--out is required/],
      [
        [path.join(dir, 'plate1'), '--out', 'x.csv', '--method', 'density', '--model', dir],
        /model sidecar not found/,
      ],
      [
        [path.join(dir, 'plate1'), '--out', 'x.csv', '--well-pattern', '(x'],
        /not a valid regular expression/,
      ],
      [[path.join(dir, 'plate1'), '--out', 'x.csv', '--queue', 'redis://127.0.0.1:9'], /--queue needs --db/],
    ];
    for (const [argv, message] of cases) {
      await expect(countCommand.run(argv)).rejects.toThrow(message);
      await expect(countCommand.run(argv)).rejects.toBeInstanceOf(WsiError);
    }
    const err = (await run(
      'node',
      [wsi, 'count', path.join(dir, 'plate1'), '--out', 'x.csv', '--plate', '48'],
      {
        cwd: dir,
      },
    ).catch((e) => e)) as { code: number; stderr: string };
    expect(err.code).toBe(1);
    expect(err.stderr.trim().split('\n').length).toBe(1);
  });
});
