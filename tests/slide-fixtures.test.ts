import { execFileSync } from 'node:child_process';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { type TiffCompression, type TiffFlavour, writePyramidTiff } from '../fixtures/tiff-writer.ts';
import { openSlide, type Slide } from '../pipeline/slide/index.ts';
import { tempDir } from './helpers/paths.ts';
import { codedPattern, compare, patternTile, referencePyramid, renderPattern } from './helpers/synthetic.ts';

const tmp = tempDir('slide-fixtures');
afterAll(() => tmp.cleanup());

// Odd sizes: not tile multiples, odd at every level, so edge tiles and edge averaging are exercised.
const W = 613;
const H = 389;
const TILE = 128;
const LEVELS = 4; // 613×389, 307×195, 154×98, 77×49

async function readLevel(s: Slide, level: number) {
  const l = s.levels[level];
  return (await s.readRegion({ x: 0, y: 0, width: l.width, height: l.height, level })).data;
}

describe('synthetic pyramids from fixtures/tiff-writer.ts read back exactly (lossless)', () => {
  const reference = referencePyramid(codedPattern, W, H, LEVELS);
  const cases: [TiffFlavour, TiffCompression, boolean][] = [
    ['generic', 'deflate', true],
    ['generic', 'lzw', false],
    ['generic', 'none', false],
    ['aperio', 'lzw', true],
    ['ome', 'deflate', false],
    ['subifd', 'none', false],
  ];
  for (const [flavour, compression, predictor] of cases) {
    it(`${flavour} layout, ${compression}${predictor ? ' + predictor' : ''}: every level, every pixel`, async () => {
      const file = path.join(tmp.path, `${flavour}-${compression}-${predictor}.tif`);
      await writePyramidTiff(file, {
        width: W,
        height: H,
        tileSize: TILE,
        levels: LEVELS,
        compression,
        predictor,
        flavour,
        mpp: 0.25,
        tile: patternTile(codedPattern),
      });
      const s = await openSlide(file);
      try {
        expect(s.format).toBe(
          flavour === 'aperio' ? 'aperio-svs' : flavour === 'ome' ? 'ome-tiff' : 'generic-tiff',
        );
        expect(s.levels.map((l) => [l.width, l.height])).toEqual(reference.map((r) => [r.width, r.height]));
        expect(s.mpp?.x).toBeCloseTo(0.25, 6);
        for (let level = 0; level < LEVELS; level++) {
          expect(compare(await readLevel(s, level), reference[level].data).differing).toBe(0);
        }
        // An unaligned region across tile corners and past the right/bottom edges.
        const r = await s.readRegion({ x: 500, y: 250, width: 150, height: 160, level: 0 });
        for (const [px, py] of [
          [0, 0],
          [112, 138],
          [5, 6],
        ]) {
          const o = (py * 150 + px) * 3;
          expect([...r.data.subarray(o, o + 3)]).toEqual(codedPattern(500 + px, 250 + py));
        }
        expect([...r.data.subarray((10 * 150 + 120) * 3, (10 * 150 + 120) * 3 + 3)]).toEqual([255, 255, 255]);
      } finally {
        await s.close();
      }
    });
  }

  it('BigTIFF layout reads the same pixels', async () => {
    const file = path.join(tmp.path, 'big.tif');
    await writePyramidTiff(file, {
      width: W,
      height: H,
      tileSize: TILE,
      levels: 2,
      compression: 'deflate',
      bigTiff: true,
      tile: patternTile(codedPattern),
    });
    const s = await openSlide(file);
    expect(compare(await readLevel(s, 0), reference[0].data).differing).toBe(0);
    expect(compare(await readLevel(s, 1), reference[1].data).differing).toBe(0);
    await s.close();
  });

  it('empty tiles (TileByteCounts 0) read as white; their neighbours are untouched', async () => {
    const file = path.join(tmp.path, 'sparse.tif');
    const draw = patternTile(codedPattern);
    await writePyramidTiff(file, {
      width: 512,
      height: 256,
      tileSize: TILE,
      levels: 1,
      compression: 'deflate',
      tile: (col, row, r) => (col === 1 && row === 0 ? null : draw(col, row, r)),
    });
    const s = await openSlide(file);
    const empty = await s.readTile(0, 1, 0);
    expect(empty.data.every((v) => v === 255)).toBe(true);
    const next = await s.readTile(0, 2, 0);
    expect([...next.data.subarray(0, 3)]).toEqual(codedPattern(256, 0));
    await s.close();
  });

  it('JPEG tiles with and without shared JPEGTables decode exactly as libvips decodes the same pages', async () => {
    for (const jpegTables of [true, false]) {
      const file = path.join(tmp.path, `jpeg-${jpegTables}.tif`);
      await writePyramidTiff(file, {
        width: W,
        height: H,
        tileSize: TILE,
        levels: 2,
        compression: 'jpeg',
        jpegTables,
        tile: patternTile(codedPattern),
      });
      const s = await openSlide(file);
      for (let level = 0; level < 2; level++) {
        const ours = await readLevel(s, level);
        const vips = await sharp(file, { page: level }).raw().toBuffer();
        expect(compare(ours, new Uint8Array(vips)).differing).toBe(0);
      }
      // Lossy but close to the source: a YCbCr/RGB mix-up would be off by tens.
      expect(compare(await readLevel(s, 0), reference[0].data).mad).toBeLessThan(12);
      await s.close();
    }
  });

  it('aperio flavour: associated images are listed and readable, never levels', async () => {
    const file = path.join(tmp.path, 'assoc.svs');
    const page = (w: number, h: number) => ({ ...renderPattern(codedPattern, w, h) });
    await writePyramidTiff(file, {
      width: W,
      height: H,
      tileSize: TILE,
      levels: 3,
      compression: 'jpeg',
      flavour: 'aperio',
      mpp: 0.25,
      appMag: 40,
      associated: { thumbnail: page(96, 61), label: page(40, 40), macro: page(120, 40) },
      tile: patternTile(codedPattern),
    });
    const s = await openSlide(file);
    expect(s.levels).toHaveLength(3);
    expect(s.associatedImages).toEqual(['thumbnail', 'label', 'macro']);
    expect(s.objectivePower).toBe(40);
    const label = await s.readAssociatedImage('label');
    expect(compare(label.data, renderPattern(codedPattern, 40, 40).data).differing).toBe(0);
    await s.close();
  });
});

describe('generic tiled TIFF as libvips and sharp write it', () => {
  const src = renderPattern(codedPattern, W, H);
  for (const compression of ['deflate', 'lzw', 'none', 'jpeg'] as const) {
    it(`sharp pyramid, ${compression}: levels found, pixels equal libvips' own decoding`, async () => {
      const file = path.join(tmp.path, `sharp-${compression}.tif`);
      await sharp(src.data, { raw: { width: W, height: H, channels: 3 } })
        .tiff({
          tile: true,
          tileWidth: TILE,
          tileHeight: TILE,
          pyramid: true,
          compression,
          predictor: compression === 'deflate' ? 'horizontal' : 'none',
          xres: 40, // pixels per mm in sharp's API: 40 px/mm = 25 µm/px
          yres: 40,
          resolutionUnit: 'cm',
        })
        .toFile(file);
      const s = await openSlide(file);
      try {
        expect(s.format).toBe('generic-tiff');
        expect(s.levels.length).toBeGreaterThanOrEqual(3);
        expect(s.mpp?.x).toBeCloseTo(25, 3);
        for (let level = 0; level < s.levels.length; level++) {
          const vips = await sharp(file, { page: level }).raw().toBuffer();
          expect(compare(await readLevel(s, level), new Uint8Array(vips)).differing).toBe(0);
        }
        if (compression !== 'jpeg') expect(compare(await readLevel(s, 0), src.data).differing).toBe(0);
      } finally {
        await s.close();
      }
    });
  }

  it('vips tiffsave --subifd pyramid and inch resolution units', async () => {
    const png = path.join(tmp.path, 'src.png');
    await sharp(src.data, { raw: { width: W, height: H, channels: 3 } })
      .png()
      .toFile(png);
    const file = path.join(tmp.path, 'vips-subifd.tif');
    execFileSync('vips', [
      'tiffsave',
      png,
      file,
      '--tile',
      '--tile-width=128',
      '--tile-height=128',
      '--pyramid',
      '--subifd',
      '--compression=deflate',
      '--xres=100', // px/mm; written in inches below: 100 px/mm = 10 µm/px
      '--yres=100',
      '--resunit=inch',
    ]);
    const s = await openSlide(file);
    expect(s.levels.length).toBeGreaterThanOrEqual(3);
    expect(s.mpp?.x).toBeCloseTo(10, 2);
    expect(compare(await readLevel(s, 0), src.data).differing).toBe(0);
    for (let level = 1; level < s.levels.length; level++) {
      const vips = await sharp(file, { subifd: level - 1 })
        .raw()
        .toBuffer();
      expect(compare(await readLevel(s, level), new Uint8Array(vips)).differing).toBe(0);
    }
    await s.close();
  });

  it('a plain stripped TIFF and a JPEG open as single-level slides', async () => {
    const tif = path.join(tmp.path, 'plain.tif');
    await sharp(src.data, { raw: { width: W, height: H, channels: 3 } })
      .tiff({ compression: 'lzw' })
      .toFile(tif);
    const s = await openSlide(tif);
    expect(s.levels).toHaveLength(1);
    expect(s.mpp).toBeUndefined(); // sharp's default 72 dpi is not a microscope calibration
    expect(compare(await readLevel(s, 0), src.data).differing).toBe(0);
    await s.close();
    const jpg = path.join(tmp.path, 'plain.jpg');
    await sharp(src.data, { raw: { width: W, height: H, channels: 3 } })
      .jpeg()
      .toFile(jpg);
    const j = await openSlide(jpg, { mpp: 0.5 });
    expect(j.format).toBe('jpeg');
    expect(j.mpp).toEqual({ x: 0.5, y: 0.5 });
    const at = await j.readAt({ x: 0, y: 0, width: 100, height: 50, mpp: 1 });
    expect([at.width, at.height]).toEqual([100, 50]);
    await j.close();
  });
});
