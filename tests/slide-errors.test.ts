import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePyramidTiff } from '../fixtures/tiff-writer.ts';
import {
  AbsurdDimensionsError,
  MissingResolutionError,
  ReadRangeError,
  SlideFormatError,
  SlideNotFoundError,
  UnsupportedCompressionError,
} from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { CMU_SLIDE, TCGA_SLIDE, tempDir } from './helpers/paths.ts';
import { codedPattern, patternTile } from './helpers/synthetic.ts';

const tmp = tempDir('slide-errors');
let base = '';

/** Rewrites value `index` of a SHORT/LONG tag in the first IFD of a little-endian classic TIFF. */
function patchTag(file: string, out: string, tag: number, value: number, index = 0): void {
  const buf = readFileSync(file);
  const ifd = buf.readUInt32LE(4);
  const n = buf.readUInt16LE(ifd);
  for (let i = 0; i < n; i++) {
    const e = ifd + 2 + i * 12;
    if (buf.readUInt16LE(e) !== tag) continue;
    const size = buf.readUInt16LE(e + 2) === 3 ? 2 : 4;
    const count = buf.readUInt32LE(e + 4);
    const at = (count * size <= 4 ? e + 8 : buf.readUInt32LE(e + 8)) + index * size;
    if (size === 2) buf.writeUInt16LE(value, at);
    else buf.writeUInt32LE(value, at);
    writeFileSync(out, buf);
    return;
  }
  throw new Error(`tag ${tag} not found`);
}

beforeAll(async () => {
  base = path.join(tmp.path, 'base.tif');
  await writePyramidTiff(base, {
    width: 300,
    height: 200,
    tileSize: 128,
    levels: 1,
    compression: 'deflate',
    tile: patternTile(codedPattern),
  });
});
afterAll(() => tmp.cleanup());

describe('openSlide refuses bad input with named one-line errors', () => {
  it('a path that does not exist', async () => {
    await expect(openSlide(path.join(tmp.path, 'nope.svs'))).rejects.toThrow(SlideNotFoundError);
  });

  it('a zero-byte file', async () => {
    const f = path.join(tmp.path, 'empty.svs');
    writeFileSync(f, '');
    await expect(openSlide(f)).rejects.toThrow(/empty file \(0 bytes\)/);
    await expect(openSlide(f)).rejects.toThrow(SlideFormatError);
  });

  it('a file that is not a TIFF, PNG or JPEG', async () => {
    const f = path.join(tmp.path, 'notes.svs');
    writeFileSync(f, 'these are not pixels\n');
    await expect(openSlide(f)).rejects.toThrow(SlideFormatError);
    await expect(openSlide(f)).rejects.toThrow(/not a TIFF, PNG or JPEG/);
  });

  it('real slides cut in half', async () => {
    for (const src of [CMU_SLIDE, TCGA_SLIDE]) {
      const b = readFileSync(src);
      const f = path.join(tmp.path, `half-${path.basename(src)}`);
      writeFileSync(f, b.subarray(0, Math.floor(b.length / 2)));
      await expect(openSlide(f)).rejects.toThrow(SlideFormatError);
      await expect(openSlide(f)).rejects.toThrow(/truncated/);
    }
  });

  it('tile data that would run past the end of the file', async () => {
    const f = path.join(tmp.path, 'bad-count.tif');
    patchTag(base, f, 325, 50_000_000, 3); // TileByteCounts[3]
    await expect(openSlide(f)).rejects.toThrow(/truncated \(tile data runs to byte/);
  });

  it('an unsupported compression, naming the code', async () => {
    const f = path.join(tmp.path, 'zstd.tif');
    patchTag(base, f, 259, 50000);
    const err = await openSlide(f).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedCompressionError);
    expect((err as Error).message).toMatch(/compression 50000 \(Zstandard\)/);
    patchTag(base, f, 259, 4242);
    await expect(openSlide(f)).rejects.toThrow(/unsupported TIFF compression 4242/);
  });

  it('a floating-point predictor (3), named', async () => {
    const f = path.join(tmp.path, 'pred3.tif');
    const withPredictor = path.join(tmp.path, 'pred2.tif');
    await writePyramidTiff(withPredictor, {
      width: 300,
      height: 200,
      tileSize: 128,
      levels: 1,
      compression: 'deflate',
      predictor: true,
      tile: patternTile(codedPattern),
    });
    patchTag(withPredictor, f, 317, 3);
    await expect(openSlide(f)).rejects.toThrow(/predictor 3 is not supported/);
  });

  it('absurd dimensions, refused before allocating', async () => {
    const f = path.join(tmp.path, 'huge.tif');
    patchTag(base, f, 256, 4_000_000_000);
    const before = process.memoryUsage().rss;
    await expect(openSlide(f)).rejects.toThrow(AbsurdDimensionsError);
    await expect(openSlide(f)).rejects.toThrow(/4000000000×200/);
    expect(process.memoryUsage().rss - before).toBeLessThan(200 * 1024 * 1024);
    const g = path.join(tmp.path, 'hugetile.tif');
    patchTag(base, g, 322, 65_535);
    patchTag(g, g, 323, 65_535);
    await expect(openSlide(g)).rejects.toThrow(AbsurdDimensionsError);
  });

  it('readAt on a slide without MPP throws MissingResolutionError; an explicit or fallback MPP fixes it', async () => {
    const s = await openSlide(base);
    expect(s.mpp).toBeUndefined();
    await expect(s.readAt({ x: 0, y: 0, width: 8, height: 8, mpp: 1 })).rejects.toThrow(
      MissingResolutionError,
    );
    await s.close();
    const t = await openSlide(base, { fallbackMpp: 0.5 });
    expect(t.mpp).toEqual({ x: 0.5, y: 0.5 });
    const img = await t.readAt({ x: 0, y: 0, width: 30, height: 20, mpp: 1 });
    expect([img.width, img.height]).toEqual([30, 20]);
    await t.close();
  });

  it('reads outside what a slide offers', async () => {
    const s = await openSlide(base);
    await expect(s.readRegion({ x: 0, y: 0, width: 0, height: 5, level: 0 })).rejects.toThrow(ReadRangeError);
    await expect(s.readRegion({ x: 0, y: 0, width: 5, height: 5, level: 3 })).rejects.toThrow(ReadRangeError);
    await expect(s.readTile(0, 9, 0)).rejects.toThrow(ReadRangeError);
    await expect(
      s.readRegion({ x: 0, y: 0, width: 5, height: 5, level: 0 }, { into: new Uint8Array(10) }),
    ).rejects.toThrow(/'into' holds 10 bytes/);
    const into = new Uint8Array(5 * 5 * 3);
    const r = await s.readRegion({ x: 10, y: 10, width: 5, height: 5, level: 0 }, { into });
    expect(r.data).toBe(into);
    expect([...into.subarray(0, 3)]).toEqual(codedPattern(10, 10));
    await expect(s.readRegion({ x: 0, y: 0, width: 100_000, height: 100_000, level: 0 })).rejects.toThrow(
      ReadRangeError,
    );
    await s.close();
    await expect(s.readRegion({ x: 0, y: 0, width: 5, height: 5, level: 0 })).rejects.toThrow(/closed/);
  });
});
