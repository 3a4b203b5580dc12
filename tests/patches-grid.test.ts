import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Annotation } from '../pipeline/annotations/index.ts';
import { ConfigError, MissingResolutionError } from '../pipeline/errors.ts';
import {
  centreRegion,
  labelPatches,
  type PatchSpec,
  planGrid,
  readPatch,
} from '../pipeline/patches/index.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import type { Slide } from '../pipeline/slide/types.ts';
import { detectTissue, type TissueMask, tissueAreaPx, tissueFraction } from '../pipeline/tissue/index.ts';
import { CMU_SLIDE, TCGA_SLIDE } from './helpers/paths.ts';

/** Σ tissue fraction × patch area over a no-overlap grid = tissue area of the region the grid covers. */
function checkPartition(slide: Slide, mask: TissueMask, mpp: number | null, level: number | null) {
  const resolution = mpp !== null ? { mpp } : { level: level ?? 0 };
  const all = planGrid(slide, mask, { resolution, size: 256, minTissue: 0 });
  const w = all[0].width;
  const h = all[0].height;
  const right = Math.max(...all.map((p) => p.x + p.width));
  const bottom = Math.max(...all.map((p) => p.y + p.height));
  const covered = tissueFraction(mask, { x: 0, y: 0, width: right, height: bottom }) * right * bottom;
  const summed = all.reduce((s, p) => s + p.tissue * p.width * p.height, 0);
  expect(Math.abs(summed - covered) / covered).toBeLessThan(0.01);
  const kept = planGrid(slide, mask, { resolution, size: 256, minTissue: 0.5 });
  // Patches at least half tissue: about tissue area / patch area (edges of the tissue go either way).
  const expected = covered / (w * h);
  expect(kept.length).toBeGreaterThan(0.75 * expected);
  expect(kept.length).toBeLessThan(1.25 * expected);
  expect(
    kept.every((p) => p.tissue >= 0.5 && p.x + p.width <= slide.width && p.y + p.height <= slide.height),
  ).toBe(true);
  return kept;
}

describe('patch grids on the real slides', () => {
  let cmu: Slide;
  let tcga: Slide;
  let cmuMask: TissueMask;
  let tcgaMask: TissueMask;
  beforeAll(async () => {
    cmu = await openSlide(CMU_SLIDE);
    tcga = await openSlide(TCGA_SLIDE, { mpp: 0.5 }); // --assume-mpp 0.5
    cmuMask = await detectTissue(cmu);
    tcgaMask = await detectTissue(tcga);
  });
  afterAll(async () => {
    await cmu.close();
    await tcga.close();
  });

  it('CMU-1 at 0.5 and 1.0 µm/px: counts follow the tissue area and scale by 4', () => {
    const at05 = checkPartition(cmu, cmuMask, 0.5, null);
    const at10 = checkPartition(cmu, cmuMask, 1.0, null);
    expect(at05[0]).toMatchObject({ width: 257, height: 257, level: 0, mpp: 0.5 }); // 256 × 0.5/0.499
    expect(at10[0].width).toBe(513);
    const area = tissueAreaPx(cmuMask);
    expect(at05.length).toBeGreaterThan((0.7 * area) / 257 ** 2);
    expect(at05.length / at10.length).toBeGreaterThan(3);
    expect(at05.length / at10.length).toBeLessThan(5.5);
  });

  it('TCGA (no MPP) with an assumed 0.5 µm/px, and by level', async () => {
    const at05 = checkPartition(tcga, tcgaMask, 0.5, null);
    const at10 = checkPartition(tcga, tcgaMask, 1.0, null);
    expect(at10[0]).toMatchObject({ level: 1, mpp: 1.0 });
    expect(at05.length / at10.length).toBeGreaterThan(3);
    expect(at05.length / at10.length).toBeLessThan(5.5);
    const noMpp = await openSlide(TCGA_SLIDE);
    try {
      expect(() => planGrid(noMpp, tcgaMask, { resolution: { mpp: 0.5 }, size: 256 })).toThrow(
        MissingResolutionError,
      );
      const byLevel = planGrid(noMpp, tcgaMask, { resolution: { level: 1 }, size: 256, minTissue: 0.5 });
      expect(byLevel.length).toBeGreaterThan(0);
      expect(byLevel[0]).toMatchObject({ level: 1, mpp: null });
      expect(Math.abs(byLevel.length - at10.length) / at10.length).toBeLessThan(0.1);
      expect(() => planGrid(noMpp, tcgaMask, { resolution: { level: 2 }, size: 256 })).toThrow(ConfigError);
    } finally {
      await noMpp.close();
    }
  });

  it('reads patches at the requested size from the right place', async () => {
    const p = planGrid(cmu, cmuMask, { resolution: { mpp: 1.0 }, size: 64, minTissue: 0.9 })[0];
    const img = await readPatch(cmu, p, 64, { mpp: 1.0 });
    expect([img.width, img.height]).toEqual([64, 64]);
    // Tissue patch: coloured, not white glass.
    let sat = 0;
    for (let i = 0; i < img.data.length; i += 3)
      sat +=
        Math.max(img.data[i], img.data[i + 1], img.data[i + 2]) -
        Math.min(img.data[i], img.data[i + 1], img.data[i + 2]);
    expect(sat / (64 * 64)).toBeGreaterThan(20);
  });

  it('refuses bad grid specs by name', () => {
    expect(() => planGrid(cmu, cmuMask, { resolution: { mpp: 0.5 }, size: 0 })).toThrow(/size must be/);
    expect(() => planGrid(cmu, cmuMask, { resolution: { mpp: 0.5 }, size: 64, stride: 1.5 })).toThrow(
      /stride/,
    );
    expect(() => planGrid(cmu, cmuMask, { resolution: { mpp: 0.5 }, size: 64, minTissue: 2 })).toThrow(
      /min-tissue/,
    );
    expect(() => planGrid(cmu, cmuMask, { resolution: { mpp: -1 }, size: 64 })).toThrow(/mpp must be/);
  });
});

describe('patch labels from annotations', () => {
  const square = (
    name: string,
    cls: Annotation['class'],
    x0: number,
    y0: number,
    x1: number,
    y1: number,
  ): Annotation => ({
    name,
    group: null,
    class: cls,
    geometry: 'polygon',
    coords: [
      [x0, y0],
      [x1, y0],
      [x1, y1],
      [x0, y1],
    ],
  });
  const patch = (x: number, y: number): PatchSpec => ({
    x,
    y,
    width: 192,
    height: 192,
    level: 0,
    mpp: 0.5,
    tissue: 1,
  });

  it('is positive only when the central 32×32 pixels meet tumour outside exclusions', () => {
    // 96-px patches of 192 level-0 px (2 level-0 px per patch px): centre region = level-0 [64, 128) of the patch.
    const tumour = square('t', 'tumour', 1000, 1000, 2000, 2000);
    const hole = square('e', 'exclusion', 1400, 1400, 1700, 1700);
    const list = [tumour, hole];
    const cases: Array<[PatchSpec, 0 | 1]> = [
      [patch(1100, 1100), 1], // inside tumour
      [patch(1450, 1450), 0], // centre inside the exclusion
      [patch(1000 - 127, 1200), 1], // centre region's last column (level-0 1000–1001) inside
      [patch(1000 - 128, 1200), 0], // tumour only outside the centre region
      [patch(3000, 3000), 0],
    ];
    expect(
      labelPatches(
        cases.map((c) => c[0]),
        96,
        list,
      ),
    ).toEqual(cases.map((c) => c[1]));
    expect(centreRegion(patch(0, 0), 96, 32)).toEqual({ x: 64, y: 64, step: 2, side: 32 });
    // A larger centre region reaches the tumour from further away.
    expect(labelPatches([patch(1000 - 159, 1200)], 96, list, { centreSize: 64 })).toEqual([1]);
    expect(labelPatches([patch(1000 - 159, 1200)], 96, list)).toEqual([0]);
    expect(() => labelPatches([patch(0, 0)], 96, list, { centreSize: 0 })).toThrow(ConfigError);
  });
});
