import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderInstrumentField } from '../fixtures/plate/instrument.ts';
import { flagFields, measureField, robustZ } from '../pipeline/counting/qc.ts';
import {
  conditionStats,
  parsePlateMap,
  plateStats,
  wellStats,
  wellsCsv,
  zPrime,
} from '../pipeline/counting/wells.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { beginRun, openStore } from '../pipeline/store/index.ts';
import { plateQc, replacePlateResults, wellStatsOfRun } from '../pipeline/store/plate-qc-queries.ts';
import { tempDir } from './helpers/paths.ts';

const gray = (c: { data: Uint16Array; width: number; height: number }) => ({
  data: Float32Array.from(c.data, (v) => v / 65535),
  width: c.width,
  height: c.height,
});

describe('field QC', () => {
  it('focus drops for a blurred field and does not depend on how many cells there are', () => {
    const sharp = measureField(gray(renderInstrumentField(12, 80, 5).nuclei), true).focus;
    const sparse = measureField(gray(renderInstrumentField(3, 80, 6).nuclei), true).focus;
    const blurred = measureField(gray(renderInstrumentField(12, 80, 5, 3).nuclei), true).focus;
    expect(blurred).toBeLessThan(0.5 * sharp);
    expect(sparse / sharp).toBeGreaterThan(0.6);
    expect(sparse / sharp).toBeLessThan(1.6);
  });

  it('measures the saturated fraction at full scale', () => {
    const data = new Float32Array(100).fill(0.1);
    data.fill(1, 0, 5);
    expect(measureField({ data, width: 10, height: 10 }, true).saturated).toBeCloseTo(0.05);
    expect(measureField({ data, width: 10, height: 10 }, false).saturated).toBeUndefined();
  });

  it('flags empty, saturated, out-of-focus (against the plate) and outlier fields', () => {
    const f = (well: string, count: number, focus = 1, saturated = 0) => ({
      plate: 'p',
      well,
      count,
      focus,
      saturated,
    });
    const flags = flagFields([
      f('A01', 10),
      f('A01', 11),
      f('A01', 9, 0.3), // out of focus: 0.3 < 0.5 × median 1
      f('A02', 0, 5), // empty
      f('A02', 12, 1, 0.2), // saturated
      f('A03', 20),
      f('A03', 21),
      f('A03', 19),
      f('A03', 60), // outlier: far from 19–21
      { count: 5, focus: 0.01 }, // no plate: never judged for focus
    ]);
    expect(flags).toEqual([[], [], ['out_of_focus'], ['empty'], ['saturated'], [], [], [], ['outlier'], []]);
    // The Poisson floor: near-equal counts are not outliers even when their MAD is 0.
    expect(robustZ([10, 10, 10, 13]).every((z) => z < 3.5)).toBe(true);
  });
});

describe('per-well statistics and the plate map', () => {
  const map = parsePlateMap(
    'well,condition,concentration,role\nA1,DMSO,0,negative\nA02,DMSO,0,negative\nB01,stauro,1,positive\nB2,stauro,1,positive\nC01,cmpd,0.5,sample\n',
  );

  it('parses a plate map and refuses bad rows with the line number', () => {
    expect(map.get('A01')).toEqual({ condition: 'DMSO', concentration: 0, role: 'negative' });
    expect(map.get('B02')?.role).toBe('positive');
    expect(() => parsePlateMap('well,condition\nA01,x\n')).toThrow(/needs columns well and role/);
    expect(() => parsePlateMap('well,role\nZ99,sample\n')).toThrow(/line 2: 'Z99' is not a well id/);
    expect(() => parsePlateMap('well,role\nA01,control\n')).toThrow(ConfigError);
    expect(() => parsePlateMap('well,role\nA01,sample\nA1,sample\n')).toThrow(/appears twice/);
    expect(() => parsePlateMap('well,role,concentration\nA01,sample,lots\n')).toThrow(/not a number/);
  });

  const field = (
    well: string,
    row: number,
    col: number,
    field: number,
    count: number,
    flags: string[] = [],
  ) => ({
    plate: 'p',
    well,
    row,
    col,
    field,
    count,
    flags,
  });
  const fields = [
    field('A01', 0, 0, 1, 100),
    field('A01', 0, 0, 2, 110),
    field('A01', 0, 0, 3, 5, ['out_of_focus']),
    field('A02', 0, 1, 1, 90),
    field('A02', 0, 1, 2, 96),
    field('B01', 1, 0, 1, 10),
    field('B01', 1, 0, 2, 14),
    field('B02', 1, 1, 1, 12),
    field('B02', 1, 1, 2, 0, ['empty']),
    field('C01', 2, 0, 1, 50),
  ];

  it('leaves flagged fields out of the mean unless asked, and computes Z′ from control well means', () => {
    const wells = wellStats(fields, map);
    const a01 = wells.find((w) => w.well === 'A01')!;
    expect([a01.fields, a01.fieldsUsed, a01.mean]).toEqual([3, 2, 105]);
    expect(a01.sd).toBeCloseTo(Math.sqrt(50), 10);
    expect(a01.cv).toBeCloseTo(Math.sqrt(50) / 105, 10);
    expect(wellStats(fields, map, true).find((w) => w.well === 'A01')!.mean).toBeCloseTo(215 / 3, 10);
    // By hand: negative well means 105 and 93, positive 12 and 12.
    const neg = [105, 93];
    const pos = [12, 12];
    const sd = (v: number[]) => {
      const m = (v[0] + v[1]) / 2;
      return Math.sqrt(((v[0] - m) ** 2 + (v[1] - m) ** 2) / 1);
    };
    const expected = 1 - (3 * (sd(pos) + sd(neg))) / Math.abs(99 - 12);
    const [plate] = plateStats(wells);
    expect(plate.zPrime).toBeCloseTo(expected, 12);
    expect(plate.positive).toMatchObject({ wells: 2, mean: 12 });
    expect(zPrime([1], [2, 3])).toBeUndefined();
    const conditions = conditionStats(wells);
    expect(conditions.map((c) => [c.condition, c.wells, c.mean])).toEqual([
      ['cmpd', 1, 50],
      ['DMSO', 2, 99],
      ['stauro', 2, 12],
    ]);
    const csv = wellsCsv(wells).split('\r\n');
    expect(csv[0]).toBe(
      'plate,well,row,column,condition,concentration,role,fields,fields_used,counts_per_field,flags,mean,sd,cv',
    );
    expect(csv[1]).toBe('p,A01,1,1,DMSO,0,negative,3,2,100;110;5,f3:out_of_focus,105,7.071,0.067');
  });
});

describe('store: per-well statistics and Z′ for the plate view (migration 004)', () => {
  it('round-trips well stats, plate Z′ and field flags, and serves them as the plate view reads them', () => {
    const tmp = tempDir('plate-qc-store');
    const store = openStore(path.join(tmp.path, 'r.sqlite'));
    try {
      const run = beginRun(store, 'count', { test: 1 });
      const map = parsePlateMap(
        'well,condition,concentration,role\nA01,DMSO,0,negative\nA02,DMSO,0,negative\n',
      );
      const wells = wellStats(
        [
          { plate: 'p', well: 'A01', row: 0, col: 0, field: 1, count: 10, flags: [] },
          { plate: 'p', well: 'A01', row: 0, col: 0, field: 2, count: 2, flags: ['out_of_focus'] },
          { plate: 'p', well: 'A02', row: 0, col: 1, field: 1, count: 12, flags: [] },
        ],
        map,
      );
      replacePlateResults(store, run.runId, wells, plateStats(wells));
      const qc = plateQc(store, run.runId, 'p');
      expect(qc.zPrime).toBeNull(); // no positive controls
      expect(qc.wells.A01).toEqual({
        condition: 'DMSO',
        concentration: 0,
        role: 'negative',
        fieldsUsed: 1,
        mean: 10,
        sd: null,
        cv: null,
        flagged: [{ field: 2, flags: ['out_of_focus'] }],
      });
      expect(wellStatsOfRun(store, run.runId)).toHaveLength(2);
      // Replacing is idempotent (a resumed run rewrites its results).
      replacePlateResults(store, run.runId, wells, plateStats(wells));
      expect(wellStatsOfRun(store, run.runId)).toHaveLength(2);
    } finally {
      store.close();
      tmp.cleanup();
    }
  });
});
