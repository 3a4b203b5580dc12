/**
 * `wsi export` on a tiny synthetic CAMELYON study (`wsi camelyon`, 2 + 2 slides) plus a counting run and
 * imported annotations in the same store: CAMELYON detections that `wsi eval froc` scores exactly as the
 * study's report; heatmap PNG values equal to the stored scores; regions, tissue, attention tiles, cells and
 * annotations that shapely finds valid and that our importer reads back as the same polygons.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticSet } from '../fixtures/camelyon/generate.ts';
import type { LesionCounts } from '../fixtures/camelyon/scene.ts';
import { parseAsapXml } from '../pipeline/annotations/asap.ts';
import { readAnnotationFile } from '../pipeline/annotations/files.ts';
import { parseGeoJson } from '../pipeline/annotations/geojson.ts';
import { evaluateRun } from '../pipeline/eval/run-eval.ts';
import { parsePredictionsCsv } from '../pipeline/eval/tables.ts';
import { metastasisClass, pnStage } from '../pipeline/export/slides.ts';
import { saveAnnotations } from '../pipeline/store/annotations-queries.ts';
import { openStore, type Store } from '../pipeline/store/db.ts';
import { repoRoot, tempDir } from './helpers/paths.ts';
import { runWsi } from './helpers/run-cli.ts';

const tmp = tempDir('export');
const trainDir = join(tmp.path, 'train');
const testDir = join(tmp.path, 'test');
const studyDir = join(tmp.path, 'study');
const db = join(studyDir, 'study.sqlite');
const runs: Record<string, number> = {};
const HAS_PYTHON = existsSync('/usr/bin/python3');

const wsi = runWsi;

function shapely(files: string[]) {
  return execFileSync('/usr/bin/python3', [join(repoRoot, 'tests/helpers/shapely_check.py'), ...files], {
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .map(
      (l) =>
        JSON.parse(l) as { file: string; features: number; invalid: unknown[]; area: number; holes: number },
    );
}

const ringKey = (ring: [number, number][]) => {
  // Same polygon whatever the start vertex and direction.
  const pts = ring.map(([x, y]) => `${x},${y}`);
  const i = pts.indexOf([...pts].sort()[0]);
  const fwd = [...pts.slice(i), ...pts.slice(0, i)];
  const back = [fwd[0], ...fwd.slice(1).reverse()];
  return [fwd.join(' '), back.join(' ')].sort()[0];
};
const polygonSet = (list: { class: string; coords: [number, number][] }[]) =>
  list.map((a) => `${a.class}:${ringKey(a.coords)}`).sort();

let store: Store;
const slideOf = (name: string) =>
  store.db.prepare('SELECT id, mpp_x AS mpp FROM slides WHERE name = ?').get(name) as {
    id: string;
    mpp: number;
  };

beforeAll(async () => {
  const lesions: LesionCounts = { large: [0, 0], small: [1, 1], itc: [0, 0] };
  const common = { slides: 2, size: 1536, tumourShare: 0.5, lesions };
  await generateSyntheticSet({ ...common, out: trainDir, seed: 41, prefix: 'train' });
  await generateSyntheticSet({ ...common, out: testDir, seed: 42, prefix: 'test' });
  const r = await wsi(
    'camelyon',
    '--train',
    trainDir,
    '--test',
    testDir,
    '--out',
    studyDir,
    '--train-steps',
    '4',
    '--train-batch',
    '8',
    '--mil-epochs',
    '3',
    '--workers',
    '1',
  );
  expect(r.code, r.err).toBe(0);
  const count = await wsi(
    'count',
    join(testDir, 'slides/test_001.tif'),
    '--region',
    '256,256,768,768',
    '--db',
    db,
    '--workers',
    '1',
  );
  expect(count.code, count.err).toBe(0);
  store = openStore(db);
  for (const row of store.db.prepare('SELECT id, kind FROM runs ORDER BY id').all() as {
    id: number;
    kind: string;
  }[])
    runs[row.kind] = row.id;
  const tumourSlide = readdirSync(join(testDir, 'annotations'))[0].replace('.xml', '');
  saveAnnotations(
    store,
    slideOf(`${tumourSlide}.tif`).id,
    `${tumourSlide}.xml`,
    readAnnotationFile(join(testDir, 'annotations', `${tumourSlide}.xml`)),
  );
}, 600_000);

afterAll(() => {
  store?.close();
  tmp.cleanup();
});

describe('wsi export', () => {
  it('detections: wsi eval froc on the exported CSVs gives the FROC the study reported', async () => {
    const out = join(tmp.path, 'det');
    expect((await wsi('export', 'detections', '--db', db, '--run', String(runs.infer), '-o', out)).code).toBe(
      0,
    );
    const froc = await wsi(
      'eval',
      'froc',
      '--detections',
      out,
      '--truth',
      join(testDir, 'annotations'),
      '--slides',
      join(testDir, 'slides'),
      '--json',
    );
    expect(froc.code, froc.err).toBe(0);
    const ours = JSON.parse(froc.out);
    const report = JSON.parse(readFileSync(join(studyDir, 'report.json'), 'utf8'));
    expect(report.froc).not.toBeNull();
    for (const k of ['froc', 'sensitivities', 'lesions', 'truePositives', 'falsePositives', 'slides'])
      expect(ours[k], k).toEqual(report.froc[k]);
    // Threshold 0 finds detections on every test slide; still the same as the store-side evaluation.
    const loose = join(tmp.path, 'det-loose');
    await wsi(
      'export',
      'detections',
      '--db',
      db,
      '--run',
      String(runs.infer),
      '--threshold',
      '0',
      '-o',
      loose,
    );
    const lines = readFileSync(join(loose, 'test_001.csv'), 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/^[\d.e-]+,\d+,\d+$/);
    // The same files `wsi eval --db` writes for this run and threshold.
    const viaDb = join(tmp.path, 'det-db');
    evaluateRun(store, runs.infer, {
      truthDir: join(testDir, 'annotations'),
      threshold: 0,
      defaultMpp: 0.25,
      outDir: viaDb,
    });
    for (const f of readdirSync(loose))
      expect(readFileSync(join(loose, f), 'utf8'), f).toBe(readFileSync(join(viaDb, f), 'utf8'));
  });

  it('heatmap: 16-bit PNG with the stored scores at their grid cells, regions that round-trip and are valid', async () => {
    const out = join(tmp.path, 'heat');
    const name = 'test_001';
    const slide = slideOf(`${name}.tif`);
    expect(
      (
        await wsi(
          'export',
          'heatmap',
          '--db',
          db,
          '--run',
          String(runs.infer),
          '--slide',
          slide.id,
          '--threshold',
          '0.3',
          '-o',
          out,
        )
      ).code,
    ).toBe(0);
    const meta = JSON.parse(readFileSync(join(out, `${name}.score.json`), 'utf8'));
    const { data, info } = await sharp(join(out, `${name}.score.png`))
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, info.channels]).toEqual([meta.columns, meta.rows, 1]);
    const px = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
    const patches = store.db
      .prepare(
        'SELECT x, y, width, score FROM patches WHERE run_id = ? AND slide_id = ? AND score IS NOT NULL',
      )
      .all(runs.infer, slide.id) as { x: number; y: number; width: number; score: number }[];
    let filled = 0;
    for (const p of patches) {
      const i = (p.x + p.width / 2 - meta.originX - meta.stride / 2) / meta.stride;
      const j = (p.y + p.width / 2 - meta.originY - meta.stride / 2) / meta.stride;
      expect(Number.isInteger(i) && Number.isInteger(j)).toBe(true);
      expect((px[j * meta.columns + i] - 1) / 65534).toBeCloseTo(p.score, 4);
    }
    for (const v of px) if (v > 0) filled++;
    expect(filled).toBe(patches.length);
    // PNG tEXt carries the same description.
    expect(readFileSync(join(out, `${name}.score.png`)).includes(Buffer.from('"originX"'))).toBe(true);
    const fromGeo = parseGeoJson(readFileSync(join(out, `${name}.tumour-regions.geojson`), 'utf8'));
    const fromXml = parseAsapXml(readFileSync(join(out, `${name}.tumour-regions.xml`), 'utf8'));
    expect(polygonSet(fromGeo)).toEqual(polygonSet(fromXml));
    if (HAS_PYTHON) expect(shapely([join(out, `${name}.tumour-regions.geojson`)])[0].invalid).toEqual([]);
  });

  it('attention: raw weights sum to 1 per slide, tiles are valid QuPath polygons with measurements', async () => {
    const out = join(tmp.path, 'att');
    expect((await wsi('export', 'attention', '--db', db, '--run', String(runs.mil), '-o', out)).code).toBe(0);
    const csv = readFileSync(join(out, 'test_002.attention.csv'), 'utf8').trim().split('\r\n');
    expect(csv[0]).toBe(
      'slide_id,slide,x_px,y_px,width_px,height_px,x_um,y_um,attention,attention_norm,score',
    );
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows.reduce((a, r) => a + Number(r[8]), 0)).toBeCloseTo(1, 4);
    expect(Math.max(...rows.map((r) => Number(r[9])))).toBe(1);
    const geo = JSON.parse(readFileSync(join(out, 'test_002.attention.geojson'), 'utf8'));
    expect(geo.features).toHaveLength(rows.length);
    expect(geo.features[0].properties.objectType).toBe('tile');
    expect(Object.keys(geo.features[0].properties.measurements)).toContain('attention');
    if (HAS_PYTHON) expect(shapely([join(out, 'test_002.attention.geojson')])[0].invalid).toEqual([]);
  });

  it('slides: name,probability that wsi eval reads, equal to the stored slide results', async () => {
    const out = join(tmp.path, 'slides');
    expect((await wsi('export', 'slides', '--db', db, '--run', String(runs.mil), '-o', out)).code).toBe(0);
    const text = readFileSync(join(out, 'predictions.csv'), 'utf8');
    expect(text.split('\r\n')[0]).toBe('name,probability');
    const parsed = parsePredictionsCsv(text);
    const stored = store.db
      .prepare(
        'SELECT s.name, r.score FROM slide_results r JOIN slides s ON s.id = r.slide_id WHERE run_id = ?',
      )
      .all(runs.mil) as { name: string; score: number }[];
    expect(parsed.size).toBe(4);
    for (const s of stored) expect(parsed.get(s.name.replace('.tif', ''))).toBeCloseTo(s.score, 6);

    // The run's out-of-distribution verdicts go beside it; a flagged slide is named on stderr.
    const verdicts = store.db
      .prepare('SELECT slide_id, reason FROM slide_ood WHERE run_id = ? ORDER BY slide_id')
      .all(runs.mil) as { slide_id: string; reason: string }[];
    expect(verdicts.length).toBe(4);
    const flagged = verdicts[0].slide_id;
    const name = (
      store.db.prepare('SELECT name FROM slides WHERE id = ?').get(flagged) as { name: string }
    ).name.replace('.tif', '');
    const before = store.db
      .prepare('SELECT out_of_distribution AS o, reason FROM slide_ood WHERE run_id = ? AND slide_id = ?')
      .get(runs.mil, flagged);
    store.db
      .prepare(
        "UPDATE slide_ood SET out_of_distribution = 1, reason = 'stain far from training' WHERE run_id = ? AND slide_id = ?",
      )
      .run(runs.mil, flagged);
    try {
      const again = await wsi('export', 'slides', '--db', db, '--run', String(runs.mil), '-o', out);
      expect(again.code).toBe(0);
      expect(again.err).toContain(`1 of 4 slides are OUT OF DISTRIBUTION for run ${runs.mil}`);
      expect(again.err).toContain(name);
      const rows = readFileSync(join(out, 'out-of-distribution.csv'), 'utf8').trim().split('\r\n');
      expect(rows[0]).toBe('name,probability,out_of_distribution,reason');
      expect(rows.length).toBe(5);
      expect(rows.find((r) => r.startsWith(`${name},`))).toMatch(/,1,stain far from training$/);
      expect(rows.filter((r) => /,0,[^,]*$/.test(r)).length).toBe(3);
    } finally {
      const b = before as { o: number; reason: string };
      store.db
        .prepare('UPDATE slide_ood SET out_of_distribution = ?, reason = ? WHERE run_id = ? AND slide_id = ?')
        .run(b.o, b.reason, runs.mil, flagged);
    }
  });

  it('CAMELYON17 stages follow the challenge rules', () => {
    expect(metastasisClass(null)).toBe('negative');
    expect(metastasisClass(150)).toBe('itc');
    expect(metastasisClass(900)).toBe('micro');
    expect(metastasisClass(2500)).toBe('macro');
    expect(pnStage(['negative', 'negative'])).toBe('pN0');
    expect(pnStage(['itc', 'negative'])).toBe('pN0(i+)');
    expect(pnStage(['micro', 'itc'])).toBe('pN1mi');
    expect(pnStage(['macro', 'micro', 'negative'])).toBe('pN1');
    expect(pnStage(['macro', 'micro', 'micro', 'micro', 'negative'])).toBe('pN2');
  });

  it('cells: CSV in px and µm and QuPath detections (points and circles), valid for shapely', async () => {
    const out = join(tmp.path, 'cells');
    const slide = slideOf('test_001.tif');
    expect((await wsi('export', 'cells', '--db', db, '--run', String(runs.count), '-o', out)).code).toBe(0);
    const n = (
      store.db.prepare('SELECT COUNT(*) AS n FROM cells WHERE run_id = ?').get(runs.count) as { n: number }
    ).n;
    expect(n).toBeGreaterThan(0);
    const lines = readFileSync(join(out, 'test_001.cells.csv'), 'utf8').trim().split('\r\n');
    expect(lines[0]).toBe('slide_id,slide,cell_id,x_px,y_px,x_um,y_um,area_px,area_um2,score');
    expect(lines.length - 1).toBe(n);
    const first = lines[1].split(',');
    expect(first[0]).toBe(slide.id);
    expect(Number(first[5])).toBeCloseTo(Number(first[3]) * slide.mpp, 3);
    const geo = JSON.parse(readFileSync(join(out, 'test_001.cells.geojson'), 'utf8'));
    expect(geo.features).toHaveLength(n);
    expect(geo.features[0].properties).toMatchObject({
      objectType: 'detection',
      classification: { name: 'Nucleus' },
    });
    const circles = join(tmp.path, 'cells-circle');
    await wsi(
      'export',
      'cells',
      '--db',
      db,
      '--run',
      String(runs.count),
      '--cell-shape',
      'circle',
      '-o',
      circles,
    );
    if (HAS_PYTHON) {
      const r = shapely([join(out, 'test_001.cells.geojson'), join(circles, 'test_001.cells.geojson')]);
      expect(r.map((x) => x.invalid)).toEqual([[], []]);
      expect(r[1].area).toBeGreaterThan(0);
    }
  });

  it('tissue: the run grid as valid polygons covering every patch footprint', async () => {
    const out = join(tmp.path, 'tissue');
    expect(
      (
        await wsi(
          'export',
          'tissue',
          '--db',
          db,
          '--run',
          String(runs.embed),
          '--slide',
          'train_001.tif',
          '-o',
          out,
        )
      ).code,
    ).toBe(0);
    const geo = parseGeoJson(readFileSync(join(out, 'train_001.tissue.geojson'), 'utf8'));
    const xml = parseAsapXml(readFileSync(join(out, 'train_001.tissue.xml'), 'utf8'));
    expect(geo.length).toBeGreaterThan(0);
    expect(geo.map((a) => ringKey(a.coords)).sort()).toEqual(xml.map((a) => ringKey(a.coords)).sort());
    if (HAS_PYTHON) expect(shapely([join(out, 'train_001.tissue.geojson')])[0].invalid).toEqual([]);
  });

  it('annotations: ASAP XML and GeoJSON read back as the stored polygons', async () => {
    const out = join(tmp.path, 'ann');
    const r = await wsi('export', 'annotations', '--db', db, '-o', out);
    expect(r.code, r.err).toBe(0);
    const file = readdirSync(out).find((f) => f.endsWith('.annotations.xml'))!;
    const stem = file.replace('.annotations.xml', '');
    const stored = store.db
      .prepare('SELECT class, coords_json FROM annotations WHERE slide_id = ?')
      .all(slideOf(`${stem}.tif`).id) as { class: string; coords_json: string }[];
    const want = polygonSet(stored.map((s) => ({ class: s.class, coords: JSON.parse(s.coords_json) })));
    expect(polygonSet(parseAsapXml(readFileSync(join(out, file), 'utf8')))).toEqual(want);
    expect(polygonSet(parseGeoJson(readFileSync(join(out, `${stem}.annotations.geojson`), 'utf8')))).toEqual(
      want,
    );
  });

  it('refuses bad requests with one line and writes nothing', async () => {
    const out = join(tmp.path, 'bad');
    for (const argv of [
      ['export', 'heatmap', '--db', db, '--run', '999', '-o', out],
      ['export', 'nonsense', '--db', db, '--run', '1', '-o', out],
      ['export', 'cells', '--db', db, '--run', String(runs.count), '--slide', 'no-such-slide', '-o', out],
      ['export', 'heatmap', '--db', db, '--run', String(runs.infer), '--value', 'nope', '-o', out],
    ]) {
      const r = await wsi(...argv);
      expect(r.code).toBe(1);
      expect(r.err.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(out)).toBe(false);
  });
});
