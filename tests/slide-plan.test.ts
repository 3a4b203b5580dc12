import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePyramidTiff } from '../fixtures/tiff-writer.ts';
import { readWindow } from '../pipeline/slide/assemble.ts';
import { createByteLru } from '../pipeline/slide/cache.ts';
import { chooseLevel, openSlide, planRead, type Slide } from '../pipeline/slide/index.ts';
import { shrinkLevelStreaming } from '../pipeline/slide/resample.ts';
import { tempDir } from './helpers/paths.ts';
import { codedPattern, compare, patternTile, referencePyramid, renderPattern } from './helpers/synthetic.ts';

const tmp = tempDir('slide-plan');
let slide: Slide;
const W = 1000;
const H = 600;
const reference = referencePyramid(codedPattern, W, H, 3);

beforeAll(async () => {
  const file = path.join(tmp.path, 'p.tif');
  await writePyramidTiff(file, {
    width: W,
    height: H,
    tileSize: 128,
    levels: 3,
    compression: 'deflate',
    flavour: 'aperio',
    mpp: 0.25,
    tile: patternTile(codedPattern),
  });
  slide = await openSlide(file);
});
afterAll(async () => {
  await slide.close();
  tmp.cleanup();
});

describe('read planning and µm/px reads', () => {
  it('chooses the coarsest level at least as fine as asked', () => {
    const levels = [1, 4, 16, 32].map((d) => ({
      width: 4000 / d,
      height: 4000 / d,
      downsample: d,
      tileWidth: 256,
      tileHeight: 256,
    }));
    expect(chooseLevel(levels, 1)).toBe(0);
    expect(chooseLevel(levels, 3.9)).toBe(0);
    expect(chooseLevel(levels, 4)).toBe(1);
    expect(chooseLevel(levels, 15)).toBe(1);
    expect(chooseLevel(levels, 1000)).toBe(3);
    // 0.5 µm/px on a 0.499 µm/px slide's 4× level: within tolerance, level 1 serves 2 µm/px.
    const plan = planRead(levels, { x: 0.499, y: 0.499 }, { x: 400, y: 800, width: 100, height: 50, mpp: 2 });
    expect(plan.level).toBe(1);
    expect(plan.window).toEqual({ x: 100, y: 200, width: 100, height: 50 });
  });

  it('readAt at a level’s own resolution returns that level’s pixels exactly (no resampling)', async () => {
    const img = await slide.readAt({ x: 200, y: 100, width: 150, height: 90, mpp: 0.5 });
    const l1 = reference[1];
    for (const [px, py] of [
      [0, 0],
      [149, 89],
      [77, 13],
    ]) {
      const o = (py * 150 + px) * 3;
      const r = ((50 + py) * l1.width + 100 + px) * 3;
      expect([...img.data.subarray(o, o + 3)]).toEqual([...l1.data.subarray(r, r + 3)]);
    }
  });

  it('readAt between levels reads the finer level and shrinks it to the requested size and field of view', async () => {
    // 0.75 µm/px: level 1 (0.5) is read, 3 level-0 px per output px.
    const img = await slide.readAt({ x: 0, y: 0, width: 200, height: 100, mpp: 0.75 });
    expect([img.width, img.height]).toEqual([200, 100]);
    // Compare with a box-averaged reference of the same field of view (600×300 level-0 px).
    const direct = await slide.readRegion({ x: 0, y: 0, width: 300, height: 150, level: 1 });
    const sharpRef = await import('sharp').then((m) =>
      m
        .default(direct.data, { raw: { width: 300, height: 150, channels: 3 } })
        .resize(200, 100, { fit: 'fill' })
        .raw()
        .toBuffer(),
    );
    expect(compare(img.data, new Uint8Array(sharpRef)).mad).toBeLessThan(1);
  });

  it('thumbnails keep the aspect ratio and come from a coarse level', async () => {
    const t = await slide.thumbnail(250);
    expect([t.width, t.height]).toEqual([250, 150]);
    // Level 2 (250×150) is exactly the thumbnail size: no resampling.
    expect(compare(t.data, reference[2].data).differing).toBe(0);
  });

  it('the streaming shrink of a level equals a box average of it', async () => {
    const src = renderPattern(codedPattern, 300, 200);
    const grid = { width: 300, height: 200, tileWidth: 64, tileHeight: 64 };
    const getTile = async (col: number, row: number) => {
      const t = new Uint8Array(64 * 64 * 3);
      for (let y = 0; y < 64; y++) {
        for (let x = 0; x < 64; x++) {
          const sx = col * 64 + x;
          const sy = row * 64 + y;
          if (sx < 300 && sy < 200)
            t.set(src.data.subarray((sy * 300 + sx) * 3, (sy * 300 + sx) * 3 + 3), (y * 64 + x) * 3);
        }
      }
      return t;
    };
    expect(compare(await readWindow(grid, 0, 0, 300, 200, getTile), src.data).differing).toBe(0);
    const small = await shrinkLevelStreaming(grid, getTile, 100, 50);
    // Output pixel (10, 7) averages source x 30–32, y 28–31.
    let sum = 0;
    for (let y = 28; y < 32; y++) for (let x = 30; x < 33; x++) sum += src.data[(y * 300 + x) * 3];
    expect(small.data[(7 * 100 + 10) * 3]).toBe(Math.round(sum / 12));
  });
});

describe('decoded-tile cache', () => {
  it('never holds more bytes than its bound and evicts the least recently used first', () => {
    const lru = createByteLru<Uint8Array>(1000);
    lru.set('a', new Uint8Array(400));
    lru.set('b', new Uint8Array(400));
    expect(lru.get('a')).toBeDefined(); // a is now more recent than b
    lru.set('c', new Uint8Array(400));
    expect(lru.bytes).toBeLessThanOrEqual(1000);
    expect(lru.get('b')).toBeUndefined();
    expect(lru.get('a')).toBeDefined();
    expect(lru.get('c')).toBeDefined();
    lru.set('huge', new Uint8Array(5000));
    expect(lru.get('huge')).toBeUndefined();
    expect(lru.bytes).toBe(800);
  });
});
