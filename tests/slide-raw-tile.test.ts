import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { type TiffCompression, writePyramidTiff } from '../fixtures/tiff-writer.ts';
import { openSlide, type Slide } from '../pipeline/slide/index.ts';
import { CMU_SLIDE, tempDir } from './helpers/paths.ts';
import { codedPattern, patternTile } from './helpers/synthetic.ts';

const tmp = tempDir('slide-raw-tile');
afterAll(() => tmp.cleanup());

/** The raw tile decoded by sharp (a browser's libjpeg-turbo) must be exactly readTile's pixels. */
async function expectRawMatchesDecoded(
  s: Slide,
  level: number,
  col: number,
  row: number,
): Promise<Uint8Array> {
  const raw = await s.readRawTile?.(level, col, row);
  expect(raw, `tile ${level}/${col}/${row}`).toBeDefined();
  if (!raw) throw new Error('unreachable');
  expect(raw.mime).toBe('image/jpeg');
  // A complete file: SOI first, EOI last.
  expect([raw.bytes[0], raw.bytes[1]]).toEqual([0xff, 0xd8]);
  expect([raw.bytes[raw.bytes.length - 2], raw.bytes[raw.bytes.length - 1]]).toEqual([0xff, 0xd9]);
  const { data, info } = await sharp(raw.bytes).raw().toBuffer({ resolveWithObject: true });
  const tile = await s.readTile(level, col, row);
  expect([info.width, info.height, info.channels]).toEqual([tile.width, tile.height, 3]);
  expect(Buffer.compare(data, Buffer.from(tile.data))).toBe(0);
  return raw.bytes;
}

async function writeFixture(
  name: string,
  compression: TiffCompression,
  jpegTables?: boolean,
  empty?: [number, number],
): Promise<string> {
  const file = path.join(tmp.path, `${name}.tif`);
  const draw = patternTile(codedPattern);
  await writePyramidTiff(file, {
    // 3.5 × 2.5 tiles at level 0: interior, right-edge and bottom-edge tiles at every level.
    width: 448,
    height: 320,
    tileSize: 128,
    levels: 2,
    compression,
    jpegTables,
    flavour: 'aperio',
    mpp: 0.5,
    tile: (col, row, r) => (empty && col === empty[0] && row === empty[1] ? null : draw(col, row, r)),
  });
  return file;
}

describe('Slide.readRawTile: stored JPEG tiles as standalone files', () => {
  it('CMU-1-Small-Region.svs (photometric RGB, shared tables): interior tiles decode to readTile pixels', async () => {
    const s = await openSlide(CMU_SLIDE);
    try {
      const l = s.levels[0];
      const cols = Math.floor(l.width / l.tileWidth);
      const rows = Math.floor(l.height / l.tileHeight);
      for (const [c, r] of [
        [0, 0],
        [3, 5],
        [cols - 1, rows - 1],
      ]) {
        const bytes = await expectRawMatchesDecoded(s, 0, c, r);
        // Adobe APP14 right after SOI, so browsers do not treat the RGB components as YCbCr.
        expect(Buffer.from(bytes.subarray(2, 11)).toString('latin1')).toBe('\xff\xee\x00\x0eAdobe');
      }
      // The last column and row extend past the image: they must be cropped, so no passthrough.
      expect(l.width % l.tileWidth).not.toBe(0);
      expect(await s.readRawTile?.(0, cols, 0)).toBeUndefined();
      expect(await s.readRawTile?.(0, 0, rows)).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  for (const tables of [true, false]) {
    it(`synthetic YCbCr JPEG pyramid ${tables ? 'with' : 'without'} shared JPEGTables: every interior tile, every level`, async () => {
      const s = await openSlide(await writeFixture(`jpeg-${tables}`, 'jpeg', tables));
      try {
        for (let level = 0; level < s.levels.length; level++) {
          const l = s.levels[level];
          const cols = Math.ceil(l.width / l.tileWidth);
          const rows = Math.ceil(l.height / l.tileHeight);
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              const interior = (c + 1) * l.tileWidth <= l.width && (r + 1) * l.tileHeight <= l.height;
              if (interior) {
                const bytes = await expectRawMatchesDecoded(s, level, c, r);
                // YCbCr tiles need no colour-transform marker.
                expect(bytes[2] === 0xff && bytes[3] === 0xee).toBe(false);
              } else {
                expect(await s.readRawTile?.(level, c, r)).toBeUndefined();
              }
            }
          }
        }
      } finally {
        await s.close();
      }
    });
  }

  it('is undefined for empty tiles and for JPEG 2000 and deflate tiles', async () => {
    const jpeg = await openSlide(await writeFixture('jpeg-empty', 'jpeg', true, [1, 0]));
    const j2k = await openSlide(await writeFixture('j2k', 'jp2k-rgb'));
    const deflate = await openSlide(await writeFixture('deflate', 'deflate'));
    try {
      expect(await jpeg.readRawTile?.(0, 1, 0)).toBeUndefined();
      expect((await jpeg.readTile(0, 1, 0)).data.every((v) => v === 255)).toBe(true);
      expect(await jpeg.readRawTile?.(0, 0, 0)).toBeDefined();
      expect(await j2k.readRawTile?.(0, 0, 0)).toBeUndefined();
      expect(await deflate.readRawTile?.(0, 0, 0)).toBeUndefined();
    } finally {
      await Promise.all([jpeg.close(), j2k.close(), deflate.close()]);
    }
  });

  it('checks its arguments like readTile (named errors)', async () => {
    const s = await openSlide(CMU_SLIDE);
    try {
      await expect(s.readRawTile?.(9, 0, 0)).rejects.toThrow(/level 9 does not exist/);
      await expect(s.readRawTile?.(0, 999, 0)).rejects.toThrow(/outside level 0/);
      await expect(s.readRawTile?.(0, -1, 0)).rejects.toThrow(/outside level 0/);
    } finally {
      await s.close();
    }
    await expect(s.readRawTile?.(0, 0, 0)).rejects.toThrow(/closed/);
  });
});
