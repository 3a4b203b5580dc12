import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { parseGeoJson } from '../pipeline/annotations/index.ts';
import { pointInRings, rasterizeRings } from '../pipeline/annotations/raster.ts';
import { command } from '../pipeline/commands/tissue.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { RGBImage } from '../pipeline/slide/types.ts';
import {
  detectTissue,
  maskFromImage,
  otsuThreshold,
  readMaskImage,
  signedArea,
  tissueFraction,
  traceRegions,
  writeOverlayPng,
} from '../pipeline/tissue/index.ts';
import { CMU_SLIDE, repoRoot, TCGA_SLIDE } from './helpers/paths.ts';

const artifacts = path.join(repoRoot, 'out/test-artifacts');

/** White glass with a pink disc (radius 60) holding a small and a large white hole, plus a pink speck. */
function syntheticSlideImage(): RGBImage {
  const width = 200;
  const height = 160;
  const data = new Uint8Array(width * height * 3).fill(242);
  const paint = (x: number, y: number, c: [number, number, number]) => data.set(c, (y * width + x) * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((x - 80) ** 2 + (y - 80) ** 2 <= 60 ** 2) paint(x, y, [200, 90, 160]);
      if ((x - 60) ** 2 + (y - 80) ** 2 <= 3 ** 2) paint(x, y, [242, 242, 242]); // small hole: filled
      if (x >= 95 && x < 125 && y >= 65 && y < 95) paint(x, y, [242, 242, 242]); // 30×30 hole: kept
      if (x >= 180 && x < 183 && y >= 20 && y < 23) paint(x, y, [120, 40, 140]); // 3×3 speck: removed
    }
  }
  return { data, width, height, channels: 3 };
}

describe('tissue detection on a synthetic image', () => {
  // 1 image px = 4 level-0 px = 2 µm: the small hole is ~28 px² (113 µm²), the 30×30 one 3,600 µm²; a hole
  // limit of 1,000 µm² fills the first and keeps the second. Pieces under 400 µm² (the speck: 36 µm²) go.
  const mask = maskFromImage(syntheticSlideImage(), 4, 2, { maxHoleUm2: 1000, minRegionUm2: 400 });

  it('finds the disc, fills the small hole, keeps the large one and drops the speck', () => {
    const at = (x: number, y: number) => mask.data[y * mask.width + x];
    expect(at(80, 80)).toBe(1);
    expect(at(60, 80)).toBe(1); // small hole filled
    expect(at(110, 80)).toBe(0); // large hole open
    expect(at(181, 21)).toBe(0); // speck gone
    expect(at(5, 5)).toBe(0);
    let n = 0;
    for (const v of mask.data) n += v;
    const expected = Math.PI * 60 * 60 - 30 * 30;
    expect(Math.abs(n - expected) / expected).toBeLessThan(0.02);
  });

  it('traces one piece with one hole, in level-0 pixels, that fills back to the mask exactly', () => {
    expect(mask.regions).toHaveLength(1);
    expect(mask.regions[0].holes).toHaveLength(1);
    expect(signedArea(mask.regions[0].outer)).toBeGreaterThan(0);
    expect(signedArea(mask.regions[0].holes[0])).toBeLessThan(0);
    // Hole corners in level-0 px: image px 95..125 × 4.
    const xs = mask.regions[0].holes[0].map(([x]) => x);
    expect(Math.min(...xs)).toBe(95 * 4);
    expect(Math.max(...xs)).toBe(125 * 4);
    const back = rasterizeRings(mask.polygons, { width: mask.width, height: mask.height, downsample: 4 });
    expect(Buffer.from(back).equals(Buffer.from(mask.data))).toBe(true);
    expect(pointInRings(80 * 4, 80 * 4, mask.polygons)).toBe(true);
    expect(pointInRings(110 * 4, 80 * 4, mask.polygons)).toBe(false);
  });

  it('measures tissue fractions of level-0 rectangles exactly, including partial mask pixels', () => {
    const full = { ...mask, umPerPixel: 2 };
    expect(tissueFraction(full, { x: 300, y: 300, width: 16, height: 16 })).toBe(1);
    expect(tissueFraction(full, { x: 0, y: 0, width: 40, height: 40 })).toBe(0);
    // Brute force over level-0 pixels: each level-0 pixel takes its mask pixel's value.
    for (const r of [
      { x: 17, y: 203, width: 77, height: 91 },
      { x: 430, y: 250, width: 50, height: 33 },
      { x: 141, y: 59, width: 256, height: 256 },
    ]) {
      let sum = 0;
      for (let y = r.y; y < r.y + r.height; y++)
        for (let x = r.x; x < r.x + r.width; x++)
          sum += mask.data[Math.floor(y / 4) * mask.width + Math.floor(x / 4)];
      expect(tissueFraction(full, r)).toBeCloseTo(sum / (r.width * r.height), 10);
    }
  });

  it('joins diagonal neighbours into one outline and keeps checkerboards exact', () => {
    const w = 7;
    const h = 6;
    const m = new Uint8Array(w * h);
    for (let y = 1; y < 5; y++) for (let x = 1; x < 6; x++) m[y * w + x] = (x + y) % 2;
    const regions = traceRegions(m, w, h);
    expect(regions).toHaveLength(1);
    const rings = regions.flatMap((r) => [r.outer, ...r.holes]);
    const back = rasterizeRings(rings, { width: w, height: h, downsample: 1 });
    expect([...back]).toEqual([...m]);
  });

  it('splits a bimodal histogram with Otsu and refuses nonsense options', () => {
    const v = new Uint8Array(1000);
    v.fill(10, 0, 600);
    v.fill(200, 600);
    const t = otsuThreshold(v);
    expect(t).toBeGreaterThanOrEqual(10);
    expect(t).toBeLessThan(200);
    expect(() => maskFromImage(syntheticSlideImage(), 4, 2, { closeUm: -1 })).toThrow(ConfigError);
    expect(() => maskFromImage(syntheticSlideImage(), 4, 2, { minSide: 20, maxSide: 10 })).toThrow(
      ConfigError,
    );
  });
});

describe('tissue detection on the real slides', () => {
  mkdirSync(artifacts, { recursive: true });
  const opened: Array<{ close(): Promise<void> }> = [];
  afterAll(async () => {
    for (const s of opened) await s.close();
  });

  // Ranges hand-checked against the overlays (out/test-artifacts/tissue-*.png): CMU-1's tissue strip covers
  // about 38% of the frame; the TCGA section about 63%, with white glass around it.
  const cases = [
    {
      file: CMU_SLIDE,
      name: 'cmu',
      minFraction: 0.33,
      maxFraction: 0.44,
      inside: [1200, 2200],
      outside: [200, 200],
    },
    {
      file: TCGA_SLIDE,
      name: 'tcga',
      minFraction: 0.56,
      maxFraction: 0.7,
      inside: [2200, 1800],
      outside: [150, 150],
    },
  ];
  for (const c of cases) {
    it(`finds the tissue of ${path.basename(c.file)} and ignores the glass`, async () => {
      const slide = await openSlide(c.file);
      opened.push(slide);
      const mask = await detectTissue(slide);
      const img = await readMaskImage(slide, mask.width, mask.height);
      await writeOverlayPng(img, mask, path.join(artifacts, `tissue-${c.name}.png`));
      let n = 0;
      for (const v of mask.data) n += v;
      const fraction = n / mask.data.length;
      expect(fraction).toBeGreaterThan(c.minFraction);
      expect(fraction).toBeLessThan(c.maxFraction);
      expect(tissueFraction(mask, { x: c.inside[0], y: c.inside[1], width: 64, height: 64 })).toBeGreaterThan(
        0.9,
      );
      expect(tissueFraction(mask, { x: c.outside[0], y: c.outside[1], width: 64, height: 64 })).toBe(0);
      expect(mask.polygons.length).toBeGreaterThan(0);
      // The polygons are in level-0 pixels and lie within the slide.
      for (const ring of mask.polygons)
        for (const [x, y] of ring) {
          expect(x).toBeGreaterThanOrEqual(0);
          expect(x).toBeLessThanOrEqual(slide.width + 1e-6);
          expect(y).toBeLessThanOrEqual(slide.height + 1e-6);
        }
      expect(pointInRings(c.inside[0] + 32, c.inside[1] + 32, mask.polygons)).toBe(true);
    });
  }
});

describe('wsi tissue', () => {
  it('writes the mask PNG, a GeoJSON outline QuPath can read back and an overlay', async () => {
    const dir = path.join(artifacts, 'tissue-cli');
    mkdirSync(dir, { recursive: true });
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      const code = await command.run([
        CMU_SLIDE,
        '-o',
        path.join(dir, 'mask.png'),
        '--geojson',
        path.join(dir, 'tissue.geojson'),
        '--overlay',
        path.join(dir, 'overlay.png'),
      ]);
      expect(code).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    const mask = await sharp(path.join(dir, 'mask.png')).raw().toBuffer({ resolveWithObject: true });
    expect([mask.info.width, mask.info.height]).toEqual([766, 1024]);
    const white = mask.data.filter((v, i) => i % mask.info.channels === 0 && v === 255).length;
    expect(white / (766 * 1024)).toBeGreaterThan(0.33);
    const outline = parseGeoJson(readFileSync(path.join(dir, 'tissue.geojson'), 'utf8'));
    expect(outline.length).toBeGreaterThanOrEqual(1);
    expect(outline[0]).toMatchObject({ group: 'Tissue', geometry: 'polygon' });
    const overlay = await sharp(path.join(dir, 'overlay.png')).metadata();
    expect([overlay.width, overlay.height]).toEqual([766, 1024]);
  });
});
