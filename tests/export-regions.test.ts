/**
 * Mask → polygons with holes for exports: on random masks full of diagonal touches, islands in holes and
 * holes in islands, the polygons fill back to exactly the mask, and Debian's shapely finds every geometry
 * valid (holes included) with the same area.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { rasterizeRings } from '../pipeline/annotations/raster.ts';
import { polygonGeometry } from '../pipeline/export/qupath.ts';
import { gridPolygons, maskPolygons, splitAtRepeatedVertices } from '../pipeline/export/regions.ts';
import { repoRoot, tempDir } from './helpers/paths.ts';

const tmp = tempDir('export-regions');
afterAll(() => tmp.cleanup());

function randomMask(w: number, h: number, seed: number, density: number): Uint8Array {
  let s = seed >>> 0;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return Uint8Array.from({ length: w * h }, () => (rnd() < density ? 1 : 0));
}

describe('export regions', () => {
  it('splits a ring that touches itself at a corner into simple rings', () => {
    const ring: [number, number][] = [
      [0, 0],
      [1, 0],
      [1, 1],
      [2, 1],
      [2, 2],
      [1, 2],
      [1, 1],
      [0, 1],
    ];
    expect(splitAtRepeatedVertices(ring)).toHaveLength(2);
  });

  it('gives back the mask exactly (even-odd fill of all rings) on random masks', () => {
    for (const [seed, density] of [
      [1, 0.5],
      [2, 0.3],
      [3, 0.7],
      [4, 0.55],
    ]) {
      const w = 37;
      const h = 29;
      const mask = randomMask(w, h, seed, density);
      const polys = maskPolygons(mask, w, h);
      const back = new Uint8Array(w * h);
      for (const p of polys) {
        const filled = rasterizeRings([p.outer, ...p.holes], { width: w, height: h, downsample: 1 });
        for (let i = 0; i < back.length; i++) back[i] += filled[i];
      }
      expect([...back]).toEqual([...mask]);
    }
  });

  it.skipIf(!existsSync('/usr/bin/python3'))(
    'is valid for shapely, holes included, with the mask area',
    () => {
      const files: string[] = [];
      const areas: number[] = [];
      for (const [seed, density] of [
        [5, 0.5],
        [6, 0.35],
        [7, 0.65],
      ]) {
        const mask = randomMask(40, 30, seed, density);
        const grid = { originX: 1000, originY: 2000, stepX: 16, stepY: 16, columns: 40, rows: 30 };
        const polys = gridPolygons(mask, grid);
        const file = join(tmp.path, `m${seed}.geojson`);
        writeFileSync(
          file,
          JSON.stringify({
            type: 'FeatureCollection',
            features: polys.map((p) => ({ type: 'Feature', geometry: polygonGeometry(p), properties: {} })),
          }),
        );
        files.push(file);
        areas.push(mask.reduce((a, b) => a + b, 0) * 16 * 16);
      }
      const out = execFileSync(
        '/usr/bin/python3',
        [join(repoRoot, 'tests/helpers/shapely_check.py'), ...files],
        {
          encoding: 'utf8',
        },
      )
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { invalid: unknown[]; area: number; holes: number });
      out.forEach((r, i) => {
        expect(r.invalid).toEqual([]);
        expect(r.area).toBeCloseTo(areas[i], 6);
      });
      expect(out.reduce((a, r) => a + r.holes, 0)).toBeGreaterThan(0);
    },
  );
});
