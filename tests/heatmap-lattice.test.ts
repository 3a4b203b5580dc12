/**
 * One patch lattice for the viewer and `wsi export heatmap`: on a run whose patches are not on a trivial grid
 * (256-px patches every 256 px and 128-px patches every 128 px, from an offset origin), the viewer's heatmap
 * image, the exported 16-bit PNG and the exported float TIFF put every patch on the same pixel with its own
 * value; the TIFF read back by geotiff.js, tifffile and Pillow holds the scores exactly (float32), NaN where no
 * patch is, and its tags place it on the slide as the store says.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromArrayBuffer } from 'geotiff';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../pipeline/cli.ts';
import { encodeFloat32Tiff } from '../pipeline/export/tiff32.ts';
import { colourOf } from '../pipeline/imaging/viridis.ts';
import { latticeValues, patchLattice } from '../pipeline/patches/lattice.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import {
  beginRun,
  finishRun,
  markSlideDone,
  openStore,
  type Store,
  upsertSlide,
} from '../pipeline/store/index.ts';
import { createRng } from '../pipeline/util/rng.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { CMU_PATH } from './fixtures/viewer-fixtures.ts';
import { repoRoot, tempDir } from './helpers/paths.ts';

/** A file's bytes as an ArrayBuffer of its own (a Buffer's .buffer may be a shared pool holding other data). */
function fileBytes(file: string): ArrayBuffer {
  const b = readFileSync(file);
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

const tmp = tempDir('heatmap-lattice');
const db = join(tmp.path, 'lattice.sqlite');
const out = join(tmp.path, 'out');
const HAS_PYTHON = existsSync('/usr/bin/python3');

interface P {
  x: number;
  y: number;
  width: number;
  height: number;
  value: number;
}

/**
 * 256-px patches centred on (165 + 256i, 219 + 256j), one left out as background, above 128-px patches
 * centred on (165 + 128k, 1499 + 128m): lattice step 128, origin (101, 155), 15 × 18 cells.
 */
function patches(): P[] {
  const rng = createRng(15);
  const list: P[] = [];
  for (let j = 0; j < 5; j++)
    for (let i = 0; i < 8; i++) {
      if (i === 3 && j === 2) continue;
      list.push({ x: 37 + 256 * i, y: 91 + 256 * j, width: 256, height: 256, value: rng.next() });
    }
  for (let m = 0; m < 8; m++)
    for (let k = 0; k < 15; k++)
      list.push({ x: 101 + 128 * k, y: 1435 + 128 * m, width: 128, height: 128, value: rng.next() });
  return list;
}

const PATCHES = patches();
let store: Store;
let slideId: string;
let runId: number;
let viewer: RunningViewer;

async function wsi(...argv: string[]): Promise<number> {
  const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return await main(argv);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

beforeAll(async () => {
  store = openStore(db);
  const s = await openSlide(CMU_PATH);
  slideId = upsertSlide(store, s);
  await s.close();
  runId = beginRun(store, 'infer', { fixture: 'heatmap-lattice' }).runId;
  const ins = store.db.prepare(
    `INSERT INTO patches (run_id, slide_id, x, y, width, height, level, mpp, tissue, score)
     VALUES (?, ?, ?, ?, ?, ?, 0, 0.499, 1, ?)`,
  );
  store.db.transaction(() => {
    for (const p of PATCHES) ins.run(runId, slideId, p.x, p.y, p.width, p.height, p.value);
    markSlideDone(store, runId, slideId, PATCHES.length);
  })();
  finishRun(store, runId);
  viewer = await startViewer({ store, openSlide, port: 0, log: () => undefined });
  expect(
    await wsi('export', 'heatmap', '--db', db, '--run', String(runId), '--slide', slideId, '-o', out),
  ).toBe(0);
}, 60_000);

afterAll(async () => {
  await viewer?.close();
  store?.close();
  tmp.cleanup();
});

/** Column and row of a patch on an image placed at (x, y) with the given steps; must be whole numbers. */
function pixelOf(p: P, place: { x: number; y: number; sx: number; sy: number }): [number, number] {
  const i = (p.x + p.width / 2 - place.x) / place.sx - 0.5;
  const j = (p.y + p.height / 2 - place.y) / place.sy - 0.5;
  expect(Number.isInteger(i) && Number.isInteger(j), `patch ${p.x},${p.y} on a pixel centre`).toBe(true);
  return [i, j];
}

describe('one patch lattice', () => {
  it('the viewer heatmap and the exported PNG and TIFF place every patch on the same pixel', async () => {
    const base = viewer.url.replace(/\/$/, '');
    const grid = (await (await fetch(`${base}/api/runs/${runId}/slides/${slideId}/heatmap.json`)).json()) as {
      x: number;
      y: number;
      strideX: number;
      strideY: number;
      columns: number;
      rows: number;
      mode: string;
    };
    expect(grid).toMatchObject({ x: 101, y: 155, strideX: 128, strideY: 128, columns: 15, rows: 18 });
    expect(grid.mode).toBe('point');
    const png = Buffer.from(
      await (await fetch(`${base}/api/runs/${runId}/slides/${slideId}/heatmap.png`)).arrayBuffer(),
    );
    const view = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    expect([view.info.width, view.info.height, view.info.channels]).toEqual([15, 18, 4]);

    const stem = 'CMU-1-Small-Region';
    const meta = JSON.parse(readFileSync(join(out, `${stem}.score.json`), 'utf8'));
    expect(meta).toMatchObject({ originX: grid.x, originY: grid.y, strideX: 128, strideY: 128, stride: 128 });
    expect([meta.columns, meta.rows]).toEqual([grid.columns, grid.rows]);
    expect(meta.patchSizes).toEqual([
      [128, 128],
      [256, 256],
    ]);
    const p16 = await sharp(join(out, `${stem}.score.png`))
      .toColourspace('grey16')
      .raw({ depth: 'ushort' })
      .toBuffer({ resolveWithObject: true });
    const pngPx = new Uint16Array(p16.data.buffer, p16.data.byteOffset, p16.data.length / 2);
    const tiff = await (await fromArrayBuffer(fileBytes(join(out, `${stem}.score.tif`)))).getImage();
    expect([tiff.getWidth(), tiff.getHeight()]).toEqual([grid.columns, grid.rows]);
    const [tiffPx] = (await tiff.readRasters()) as unknown as Float32Array[];
    expect(tiffPx).toBeInstanceOf(Float32Array);
    const [ox, oy] = tiff.getOrigin();
    const [rx, ry] = tiff.getResolution();

    const viewerPlace = { x: grid.x, y: grid.y, sx: grid.strideX, sy: grid.strideY };
    const exportPlace = { x: meta.originX, y: meta.originY, sx: meta.strideX, sy: meta.strideY };
    const tiffPlace = { x: ox, y: oy, sx: rx, sy: ry };
    const seen = new Set<number>();
    for (const p of PATCHES) {
      const at = pixelOf(p, viewerPlace);
      expect(pixelOf(p, exportPlace)).toEqual(at);
      expect(pixelOf(p, tiffPlace)).toEqual(at);
      const k = at[1] * grid.columns + at[0];
      seen.add(k);
      expect([...view.data.subarray(4 * k, 4 * k + 4)]).toEqual([...colourOf(p.value), 255]);
      expect(pngPx[k]).toBe(1 + Math.round(p.value * 65534));
      expect(tiffPx[k]).toBe(Math.fround(p.value));
    }
    expect(seen.size).toBe(PATCHES.length);
    // Every other pixel is empty in all three.
    for (let k = 0; k < grid.columns * grid.rows; k++) {
      if (seen.has(k)) continue;
      expect(view.data[4 * k + 3]).toBe(0);
      expect(pngPx[k]).toBe(0);
      expect(Number.isNaN(tiffPx[k])).toBe(true);
    }
  });

  it('keeps the higher value where two patches snap into one cell, whatever their order', () => {
    const a = { x: 0, y: 0, width: 256, height: 256, value: 0.2 };
    const b = { x: 3, y: 0, width: 256, height: 256, value: 0.9 };
    const c = { x: 512, y: 0, width: 256, height: 256, value: 0.5 };
    for (const order of [
      [a, b, c],
      [c, b, a],
    ]) {
      const l = patchLattice(order);
      // Off-lattice positions: the step is floored at 1/16 of a patch, so a and b share a cell.
      expect([l.stepX, l.stepY]).toEqual([16, 256]);
      const v = latticeValues(l, order);
      expect(v[0]).toBeCloseTo(0.9, 6);
      expect(v.filter((x) => !Number.isNaN(x)).length).toBe(2);
    }
  });
});

describe('float TIFF heatmap', () => {
  const stem = 'CMU-1-Small-Region';
  it('geotiff.js reads the description, µm/px resolution and nodata the store implies', async () => {
    const tiff = await (await fromArrayBuffer(fileBytes(join(out, `${stem}.score.tif`)))).getImage();
    const fd = tiff.fileDirectory;
    // ASCII values keep their NUL terminator in geotiff.js.
    const meta = JSON.parse(String(await fd.loadValue('ImageDescription')).replace(/\0+$/, ''));
    expect(meta).toMatchObject({ slideId, originX: 101, originY: 155, strideX: 128, mpp: 0.499 });
    expect(tiff.getGDALNoData()).toBeNaN();
    expect(Array.from(fd.getValue('SampleFormat') as ArrayLike<number>)).toEqual([3]);
    expect(Array.from(fd.getValue('BitsPerSample') as ArrayLike<number>)).toEqual([32]);
    expect(await fd.loadValue('ResolutionUnit')).toBe(3);
    // A RATIONAL comes back as [numerator, denominator].
    const xres = (await fd.loadValue('XResolution')) as unknown as [number, number];
    // Cells per centimetre: 10⁴ µm / (128 px · 0.499 µm/px).
    expect(xres[0] / xres[1]).toBeCloseTo(1e4 / (128 * 0.499), 5);
  });

  it.skipIf(!HAS_PYTHON)('tifffile and Pillow read the same float32 values and placement', () => {
    const r = JSON.parse(
      execFileSync(
        '/usr/bin/python3',
        [join(repoRoot, 'tests/helpers/tiff_read.py'), join(out, `${stem}.score.tif`)],
        {
          encoding: 'utf8',
          maxBuffer: 1 << 24,
        },
      ),
    );
    const meta = JSON.parse(readFileSync(join(out, `${stem}.score.json`), 'utf8'));
    expect(r.dtype).toBe('float32');
    expect(r.shape).toEqual([meta.rows, meta.columns]);
    expect(r.pilMode).toBe('F');
    const l = patchLattice(PATCHES);
    const expected = [...latticeValues(l, PATCHES)].map((v) => (Number.isNaN(v) ? null : v));
    expect(r.tifffile).toEqual(expected);
    expect(r.pil).toEqual(expected);
    expect(r.modelPixelScale).toEqual([128, -128, 0]);
    expect(r.modelTiepoint).toEqual([0, 0, 0, 101, 155, 0]);
    // GTModelType user-defined, GTRasterType PixelIsArea.
    expect(r.geoKeys).toEqual([1, 1, 0, 2, 1024, 0, 1, 32767, 1025, 0, 1, 1]);
    // 128 level-0 px at 0.499 µm/px = 63.872 µm per cell: 156.56… cells per cm.
    expect(r.resolutionUnit).toBe(3);
    expect(r.xResolution[0] / r.xResolution[1]).toBeCloseTo(1e4 / (128 * 0.499), 5);
    expect(r.yResolution[0] / r.yResolution[1]).toBeCloseTo(1e4 / (128 * 0.499), 5);
    expect(r.nodata).toBe('nan');
    expect(JSON.parse(r.description)).toMatchObject({
      originX: 101,
      originY: 155,
      strideX: 128,
      strideY: 128,
    });
  });

  it('a many-strip image without µm/px reads back exactly, resolution in cells per level-0 pixel', async () => {
    // 300 × 250 float32: 54 rows per 64 KiB strip, so five strips, the last one short.
    const rng = createRng(7);
    const v = new Float32Array(300 * 250).map((_, i) => (i % 11 === 0 ? Number.NaN : rng.next() * 1e3 - 500));
    const file = join(tmp.path, 'strips.tif');
    writeFileSync(
      file,
      encodeFloat32Tiff(300, 250, v, {
        description: '{}',
        originX: 4,
        originY: 8,
        stepX: 16,
        stepY: 32,
        mpp: null,
      }),
    );
    const image = await (await fromArrayBuffer(fileBytes(file))).getImage();
    const [back] = (await image.readRasters()) as unknown as Float32Array[];
    expect(Object.is(back.length, v.length) && back.every((x, i) => Object.is(x, v[i]))).toBe(true);
    expect(image.getOrigin().slice(0, 2)).toEqual([4, 8]);
    expect(image.getResolution().slice(0, 2)).toEqual([16, 32]);
    expect(await image.fileDirectory.loadValue('ResolutionUnit')).toBe(1);
    if (!HAS_PYTHON) return;
    const r = JSON.parse(
      execFileSync('/usr/bin/python3', [join(repoRoot, 'tests/helpers/tiff_read.py'), file], {
        encoding: 'utf8',
        maxBuffer: 1 << 26,
      }),
    );
    const expected = [...v].map((x) => (Number.isNaN(x) ? null : x));
    expect(r.tifffile).toEqual(expected);
    expect(r.pil).toEqual(expected);
    expect(r.xResolution[0] / r.xResolution[1]).toBeCloseTo(1 / 16, 6);
  });

  it('--format png writes no TIFF, and a bad --format is refused', async () => {
    const only = join(tmp.path, 'png-only');
    expect(
      await wsi('export', 'heatmap', '--db', db, '--run', String(runId), '--format', 'png', '-o', only),
    ).toBe(0);
    expect(existsSync(join(only, `${stem}.score.png`))).toBe(true);
    expect(existsSync(join(only, `${stem}.score.tif`))).toBe(false);
    expect(
      await wsi('export', 'heatmap', '--db', db, '--run', String(runId), '--format', 'jpeg', '-o', only),
    ).not.toBe(0);
  });
});
