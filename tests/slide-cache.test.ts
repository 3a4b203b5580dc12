import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writePyramidTiff } from '../fixtures/tiff-writer.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { LevelRegion } from '../pipeline/slide/types.ts';
import { tempDir } from './helpers/paths.ts';
import { codedPattern, patternTile, renderPattern } from './helpers/synthetic.ts';

const tmp = tempDir('slide-cache');
afterAll(() => tmp.cleanup());

describe('decoded-tile cache under pressure', () => {
  it('a cache of three tiles under many concurrent reads (evicting and reusing tile memory) returns the same pixels', async () => {
    const file = path.join(tmp.path, 'jpeg.tif');
    await writePyramidTiff(file, {
      width: 1000,
      height: 700,
      tileSize: 128,
      levels: 2,
      compression: 'jpeg',
      tile: patternTile(codedPattern),
    });
    const tileBytes = 128 * 128 * 3;
    const tiny = await openSlide(file, { cacheBytes: 3 * tileBytes });
    const roomy = await openSlide(file);
    let s = 99;
    const rnd = () => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 4294967296;
    };
    const regions: LevelRegion[] = Array.from({ length: 60 }, () => {
      const level = rnd() < 0.7 ? 0 : 1;
      return {
        level,
        x: Math.floor(rnd() * 900),
        y: Math.floor(rnd() * 600),
        width: 40 + Math.floor(rnd() * 300),
        height: 40 + Math.floor(rnd() * 300),
      };
    });
    // All at once on the tiny cache: tiles are evicted while other reads still wait for them.
    const concurrent = await Promise.all(regions.map((r) => tiny.readRegion(r)));
    for (const [i, r] of regions.entries()) {
      const expected = await roomy.readRegion(r);
      expect(Buffer.compare(Buffer.from(concurrent[i].data), Buffer.from(expected.data)), `region ${i}`).toBe(
        0,
      );
    }
    // And again sequentially, so evicted buffers get reused for other tiles in between.
    for (const r of regions.slice(0, 20)) {
      const a = await tiny.readRegion(r);
      const b = await roomy.readRegion(r);
      expect(Buffer.compare(Buffer.from(a.data), Buffer.from(b.data))).toBe(0);
    }
    await tiny.close();
    await roomy.close();
  });

  it.each(['none', 'deflate', 'lzw'] as const)(
    'reused read buffers never leak into decoded tiles (%s tiles, tiny cache, exact pixels)',
    async (compression) => {
      // Uncompressed RGB tiles are views of the bytes read; those bytes must not be recycled.
      const file = path.join(tmp.path, `${compression}.tif`);
      const width = 700;
      const height = 500;
      await writePyramidTiff(file, {
        width,
        height,
        tileSize: 128,
        levels: 1,
        compression,
        tile: patternTile(codedPattern),
      });
      const truth = renderPattern(codedPattern, width, height);
      const slide = await openSlide(file, { cacheBytes: 2 * 128 * 128 * 3 });
      for (let i = 0; i < 40; i++) {
        const x = (i * 97) % (width - 150);
        const y = (i * 61) % (height - 150);
        const { data } = await slide.readRegion({ level: 0, x, y, width: 150, height: 150 });
        for (let row = 0; row < 150; row++) {
          const src = ((y + row) * width + x) * 3;
          const got = Buffer.from(data.subarray(row * 450, row * 450 + 450));
          expect(Buffer.compare(got, Buffer.from(truth.data.subarray(src, src + 450))), `read ${i}`).toBe(0);
        }
      }
      await slide.close();
    },
  );
});
