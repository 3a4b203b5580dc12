import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { haematoxylin } from '../pipeline/counting/channel.ts';
import { distanceTransform } from '../pipeline/counting/distance.ts';
import { meanAbsoluteError, scoreDetections } from '../pipeline/counting/evaluate.ts';
import { readDots, readImage, readLabelMap } from '../pipeline/counting/image-io.ts';
import { findMarkers, maxFilter } from '../pipeline/counting/markers.ts';
import { watershed } from '../pipeline/counting/watershed.ts';
import { countWatershed, segmentChannel } from '../pipeline/counting/watershed-counter.ts';
import { ConfigError, SlideFormatError, SlideNotFoundError } from '../pipeline/errors.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.resolve(repoRoot, '../shared/data/counting');

/** A float image with bright discs at the given centres. */
function discs(w: number, h: number, centres: [number, number, number][]) {
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (const [cx, cy, r] of centres) if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) out[y * w + x] = 1;
  return { data: out, width: w, height: h };
}

describe('watershed building blocks', () => {
  it('distance transform is exact: equals brute-force nearest-background distance', () => {
    const w = 37;
    const h = 23;
    const mask = new Uint8Array(w * h);
    let seed = 7;
    for (let i = 0; i < mask.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      mask[i] = seed % 10 < 8 ? 1 : 0;
    }
    const d = distanceTransform(mask, w, h);
    for (let p = 0; p < mask.length; p++) {
      let best = Number.POSITIVE_INFINITY;
      for (let q = 0; q < mask.length; q++) {
        if (mask[q]) continue;
        best = Math.min(best, Math.hypot((p % w) - (q % w), Math.floor(p / w) - Math.floor(q / w)));
      }
      expect(d.data[p]).toBeCloseTo(mask[p] ? best : 0, 5);
    }
  });

  it('watershed floods in (value, arrival) order: equals a plain priority-flood on surfaces full of ties', () => {
    // Reference: Meyer's flooding with the queue as a list, the lowest (value, arrival) taken each step.
    const reference = (surf: Float32Array, w: number, h: number, markers: Int32Array, mask: Uint8Array) => {
      const labels = new Int32Array(w * h);
      const queue: [number, number, number][] = [];
      let age = 0;
      for (let i = 0; i < markers.length; i++) {
        labels[markers[i]] = i + 1;
        queue.push([surf[markers[i]], age++, markers[i]]);
      }
      while (queue.length) {
        let best = 0;
        for (let i = 1; i < queue.length; i++) {
          const [v, a] = queue[i];
          if (v < queue[best][0] || (v === queue[best][0] && a < queue[best][1])) best = i;
        }
        const p = queue.splice(best, 1)[0][2];
        const x = p % w;
        const nbrs = [
          p >= w ? p - w : -1,
          x > 0 ? p - 1 : -1,
          x < w - 1 ? p + 1 : -1,
          p + w < w * h ? p + w : -1,
        ];
        for (const q of nbrs) {
          if (q < 0 || labels[q] !== 0 || !mask[q]) continue;
          labels[q] = labels[p];
          queue.push([surf[q], age++, q]);
        }
      }
      return labels;
    };
    let seed = 11;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    for (const [w, h] of [
      [23, 17],
      [1, 30],
      [30, 1],
    ]) {
      const surf = new Float32Array(w * h);
      const mask = new Uint8Array(w * h);
      for (let i = 0; i < surf.length; i++) {
        // Four levels (including −0 and +0, which must tie) so most pixels tie with others.
        surf[i] = [-0, 0, -1.5, 2.25][Math.floor(rand() * 4)];
        mask[i] = rand() < 0.85 ? 1 : 0;
      }
      const markers = Int32Array.from({ length: 5 }, () => Math.floor(rand() * w * h));
      expect(Array.from(watershed(surf, w, h, markers, mask))).toEqual(
        Array.from(reference(surf, w, h, markers, mask)),
      );
    }
  });

  it('max filter equals the brute-force maximum over the clamped square', () => {
    let seed = 3;
    for (const [w, h, r] of [
      [31, 19, 3],
      [7, 40, 6],
      [5, 5, 9],
    ]) {
      const data = new Float32Array(w * h);
      for (let i = 0; i < data.length; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        data[i] = (seed % 50) - 25;
      }
      const got = maxFilter({ data, width: w, height: h }, r);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          let m = Number.NEGATIVE_INFINITY;
          for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++)
            for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++)
              m = Math.max(m, data[yy * w + xx]);
          expect(got[y * w + x]).toBe(m);
        }
      }
    }
  });

  it('splits two touching discs into two cells and keeps an isolated one', () => {
    const img = discs(80, 60, [
      [20, 30, 9],
      [35, 30, 9],
      [62, 20, 7],
    ]);
    const r = segmentChannel(img, { sigma: 0, minDistance: 4, h: 1, minArea: 10, markersOn: 'distance' });
    expect(r.count).toBe(3);
    const xs = r.cells.map((c) => Math.round(c.x)).sort((a, b) => a - b);
    expect(xs[0]).toBeGreaterThanOrEqual(18);
    expect(xs[0]).toBeLessThanOrEqual(22);
    expect(xs[2]).toBe(62);
    // Labels cover the discs: total labelled area close to the discs' area.
    const labelled = r.labels.reduce((s, v) => s + (v > 0 ? 1 : 0), 0);
    expect(labelled).toBeGreaterThan(0.9 * (2 * Math.PI * 81 + Math.PI * 49 - 20));
  });

  it('h-value removes maxima shallower than h', () => {
    // Two bumps: one 1.0 high, one with a dynamic of only 0.05 above its saddle.
    const w = 40;
    const surface = new Float32Array(w);
    for (let x = 0; x < w; x++)
      surface[x] = Math.max(Math.exp(-((x - 10) ** 2) / 8), 0.5 + 0.05 * Math.exp(-((x - 30) ** 2) / 8));
    const img = { data: surface, width: w, height: 1 };
    expect(findMarkers(img, { minDistance: 2 }).length).toBe(2);
    expect(findMarkers(img, { minDistance: 2, h: 0.1 }).length).toBe(1);
  });

  it('haematoxylin is high on MoNuSeg nuclei and low on the rest', async () => {
    const img = await readImage(path.join(data, 'monuseg/TCGA-18-5592-01Z-00-DX1.png'));
    const lab = await readLabelMap(path.join(data, 'monuseg/TCGA-18-5592-01Z-00-DX1_labels.png'));
    const h = haematoxylin(img);
    let inSum = 0;
    let inN = 0;
    let outSum = 0;
    let outN = 0;
    for (let i = 0; i < h.data.length; i++) {
      if (lab.labels[i] > 0) {
        inSum += h.data[i];
        inN++;
      } else {
        outSum += h.data[i];
        outN++;
      }
    }
    expect(inSum / inN).toBeGreaterThan(1.5 * (outSum / outN));
  });

  it('rejects bad options and unreadable files with named errors', async () => {
    const img = discs(10, 10, [[5, 5, 3]]);
    expect(() => segmentChannel(img, { minDistance: 0 })).toThrow(ConfigError);
    expect(() => segmentChannel(img, { minArea: 10, maxArea: 5 })).toThrow(ConfigError);
    expect(() => segmentChannel(img, { threshold: 'magic' as 'otsu' })).toThrow(ConfigError);
    await expect(readImage(path.join(data, 'no-such.png'))).rejects.toThrow(SlideNotFoundError);
    await expect(readImage(path.join(repoRoot, 'package.json'))).rejects.toThrow(SlideFormatError);
  });
});

describe('watershed counter on real data', () => {
  // Bounds are the measured values (bench/count.md) plus a margin: a regression in any step breaks them.
  it('VGG cells (fluorescence): MAE over every 4th image of 001–100 below 42 (measured 38.0)', async () => {
    const pairs = [];
    for (let i = 1; i <= 100; i += 4) {
      const id = String(i).padStart(3, '0');
      const img = await readImage(path.join(data, `vgg-cells/${id}cell.png`));
      const dots = await readDots(path.join(data, `vgg-cells/${id}dots.png`));
      pairs.push({ predicted: countWatershed(img).count, truth: dots.length });
    }
    expect(meanAbsoluteError(pairs)).toBeLessThan(42);
  });

  it('MBM bone marrow (H&E): MAE below 12 with the brightfield preset and a raised threshold', async () => {
    const dir = path.join(data, 'mbm');
    const pairs = [];
    for (const f of readdirSync(dir).filter((f) => !f.includes('dots'))) {
      const img = await readImage(path.join(dir, f));
      const dots = await readDots(path.join(dir, f.replace(/_(\d+)\.png$/, '_dots_$1.png')));
      const r = countWatershed(img, { thresholdScale: 1.3, minArea: 80 }, 'brightfield');
      pairs.push({ predicted: r.count, truth: dots.length });
    }
    expect(pairs.length).toBe(22);
    expect(meanAbsoluteError(pairs)).toBeLessThan(12);
  });

  it('MoNuSeg (H&E, 480 nuclei): count within 5% and detection F1 ≥ 0.80 (measured 0.838)', async () => {
    const img = await readImage(path.join(data, 'monuseg/TCGA-18-5592-01Z-00-DX1.png'));
    const lab = await readLabelMap(path.join(data, 'monuseg/TCGA-18-5592-01Z-00-DX1_labels.png'));
    const r = countWatershed(img);
    expect(Math.abs(r.count - 480)).toBeLessThan(24);
    const s = scoreDetections(r.cells, lab.labels, lab.width, lab.height);
    expect(s.f1).toBeGreaterThanOrEqual(0.8);
    expect(r.labels.length).toBe(1000 * 1000);
    expect(r.meanArea).toBeGreaterThan(100);
  });
});
