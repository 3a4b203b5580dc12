import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MissingResolutionError, ReadRangeError } from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { CMU_SLIDE, dataDir, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const tmp = tempDir('slide-real');
afterAll(() => tmp.cleanup());

describe('real Aperio slides', () => {
  it('opens CMU-1-Small-Region.svs (JPEG, RGB photometric) with its metadata', async () => {
    const s = await openSlide(CMU_SLIDE);
    try {
      expect(s.format).toBe('aperio-svs');
      expect(s.levels).toEqual([
        { width: 2220, height: 2967, downsample: 1, tileWidth: 240, tileHeight: 240 },
      ]);
      expect(s.mpp).toEqual({ x: 0.499, y: 0.499 });
      expect(s.objectivePower).toBe(20);
      expect(s.associatedImages).toEqual(['thumbnail', 'label', 'macro']);
      // First pixels as OpenSlide reports them: an RGB tile decoded as YCbCr would differ by tens.
      const r = await s.readRegion({ x: 0, y: 0, width: 2, height: 1, level: 0 });
      expect([...r.data]).toEqual([221, 182, 221, 255, 172, 196]);
    } finally {
      await s.close();
    }
  });

  it('opens the TCGA JPEG 2000 slide with two levels and no MPP', async () => {
    const s = await openSlide(TCGA_SLIDE);
    try {
      expect(s.levels.map((l) => [l.width, l.height])).toEqual([
        [4443, 3567],
        [2221, 1783],
      ]);
      expect(s.levels[1].downsample).toBeCloseTo(2.0005, 4);
      expect(s.mpp).toBeUndefined();
      expect(s.associatedImages).toEqual(['thumbnail']);
      await expect(s.readAt({ x: 0, y: 0, width: 10, height: 10, mpp: 1 })).rejects.toThrow(
        MissingResolutionError,
      );
      const withMpp = await openSlide(TCGA_SLIDE, { mpp: 0.25 });
      const img = await withMpp.readAt({ x: 2000, y: 1500, width: 64, height: 48, mpp: 0.5 });
      expect([img.width, img.height, img.data.length]).toEqual([64, 48, 64 * 48 * 3]);
      await withMpp.close();
    } finally {
      await s.close();
    }
  });

  it('keeps the same id when the file is copied under another name', async () => {
    const copy = path.join(tmp.path, 'renamed.svs');
    copyFileSync(CMU_SLIDE, copy);
    const [a, b, c] = await Promise.all([openSlide(CMU_SLIDE), openSlide(copy), openSlide(TCGA_SLIDE)]);
    expect(a.id).toMatch(/^[0-9a-f]{64}$/);
    expect(b.id).toBe(a.id);
    expect(c.id).not.toBe(a.id);
    await Promise.all([a.close(), b.close(), c.close()]);
  });

  it('paints areas outside the image white and rejects bad levels', async () => {
    const s = await openSlide(CMU_SLIDE);
    try {
      const r = await s.readRegion({ x: 2210, y: -5, width: 20, height: 10, level: 0 });
      // Column 15 (x = 2225) is beyond the 2220 px width; row 2 (y = -3) is above the image.
      expect([...r.data.subarray((2 * 20 + 15) * 3, (2 * 20 + 15) * 3 + 3)]).toEqual([255, 255, 255]);
      const inside = r.data.subarray((7 * 20 + 2) * 3, (7 * 20 + 2) * 3 + 3);
      expect([...inside]).not.toEqual([255, 255, 255]);
      await expect(s.readRegion({ x: 0, y: 0, width: 4, height: 4, level: 1 })).rejects.toThrow(
        ReadRangeError,
      );
    } finally {
      await s.close();
    }
  });

  it('reads an associated image only when asked by name, and PNGs as one-level slides', async () => {
    const s = await openSlide(CMU_SLIDE);
    const label = await s.readAssociatedImage('label');
    expect([label.width, label.height]).toEqual([387, 463]);
    await expect(s.readAssociatedImage('nope')).rejects.toThrow(ReadRangeError);
    await s.close();
    const png = await openSlide(path.join(dataDir, 'images/ihc.png'));
    expect(png.format).toBe('png');
    expect(png.levels).toHaveLength(1);
    expect([png.width, png.height]).toEqual([512, 512]);
    const px = await png.readRegion({ x: 100, y: 100, width: 8, height: 8, level: 0 });
    expect(px.data.length).toBe(8 * 8 * 3);
    await png.close();
  });
});
