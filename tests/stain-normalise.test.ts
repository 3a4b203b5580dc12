/**
 * Stain normalisation: stain vectors recovered from tiles rendered with known H&E vectors (Beer–Lambert),
 * a re-stained tile normalised back to the original, bad targets refused, and the real slides in
 * ../shared/data normalised to each other (thumbnails in out/test-artifacts/stain-*.png for a human).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { command } from '../pipeline/commands/stain.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { writeRgbImage } from '../pipeline/slide/write-image.ts';
import {
  angleDeg,
  checkStainEstimate,
  createTileNormaliser,
  estimateSlideStain,
  estimateStain,
  type StainMatrix,
} from '../pipeline/stain/index.ts';
import { CMU_SLIDE, repoRoot, TCGA_SLIDE, tempDir } from './helpers/paths.ts';
import {
  concentrationField,
  REFERENCE_STAIN,
  renderStained,
  type StainSpec,
  unit3,
} from './helpers/stain-tiles.ts';

const artifacts = path.join(repoRoot, 'out/test-artifacts');
const tmp = tempDir('stain');
afterAll(() => tmp.cleanup());

/** Another lab: bluer haematoxylin, purpler eosin, weaker H, stronger E, bluish glass. */
const OTHER: StainSpec = {
  h: unit3([0.5, 0.8, 0.35]),
  e: unit3([0.2, 0.95, 0.3]),
  hScale: 0.7,
  eScale: 1.4,
  background: [236, 240, 250],
};

const meanAbs = (a: Uint8Array, b: Uint8Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
};

describe('stain vectors of tiles with a known stain', () => {
  const field = concentrationField(160, 3);
  const original = renderStained(field, REFERENCE_STAIN);
  const restained = renderStained(field, OTHER, 1, 9);

  it.each([
    ['macenko', 3],
    ['vahadane', 4],
  ] as const)('%s recovers H and E within %d°', (method, bound) => {
    for (const [tile, spec] of [
      [original, REFERENCE_STAIN],
      [restained, OTHER],
    ] as const) {
      const e = estimateStain(method, tile, 3) as StainMatrix;
      expect(angleDeg(e.h, spec.h)).toBeLessThan(bound);
      expect(angleDeg(e.e, spec.e)).toBeLessThan(bound);
      // Glass comes from the brightest pixels: within 2 levels of the true I₀ (the grain is ±1).
      for (let c = 0; c < 3; c++)
        expect(Math.abs(e.background[c] - spec.background[c])).toBeLessThanOrEqual(2);
    }
  });

  it.each([
    ['macenko', 2.5],
    ['vahadane', 2.5],
    ['reinhard', 12],
  ] as const)(
    '%s normalises a re-stained tile back to the original (mean |ΔRGB| < %d of 255)',
    (method, bound) => {
      const before = meanAbs(original, restained);
      expect(before).toBeGreaterThan(15);
      const target = estimateStain(method, original, 3);
      const source = estimateStain(method, restained, 3);
      const back = createTileNormaliser(source, target)(restained, 3);
      const after = meanAbs(original, back);
      expect(after).toBeLessThan(bound);
      // Reinhard only matches colour statistics: it cannot undo a change of stain vectors pixel by pixel.
      expect(after).toBeLessThan(before * (method === 'reinhard' ? 0.65 : 0.15));
    },
  );

  it('maps a tile onto its own estimate as the identity (within rounding)', () => {
    const e = estimateStain('macenko', original, 3);
    expect(meanAbs(createTileNormaliser(e, e)(original, 3), original)).toBeLessThan(1);
  });

  it('takes RGBA tiles', () => {
    const rgba = new Uint8Array((original.length / 3) * 4);
    for (let i = 0; i < original.length / 3; i++)
      rgba.set([...original.subarray(i * 3, i * 3 + 3), 255], i * 4);
    const e = estimateStain('macenko', original, 3);
    expect(meanAbs(createTileNormaliser(e, e)(rgba, 4), original)).toBeLessThan(1);
  });
});

describe('bad input', () => {
  it('refuses a blank tile, a malformed target and mixed methods with ConfigError', () => {
    expect(() => estimateStain('macenko', new Uint8Array(64 * 64 * 3).fill(240), 3)).toThrow(ConfigError);
    expect(() => checkStainEstimate({ method: 'macenko', h: [1, 0], e: [0, 1, 0] })).toThrow(/needs h, e/);
    expect(() => checkStainEstimate({ method: 'otsu' })).toThrow(/must be one of/);
    const a = estimateStain('reinhard', renderStained(concentrationField(64, 1), REFERENCE_STAIN), 3);
    const b = estimateStain('macenko', renderStained(concentrationField(64, 1), REFERENCE_STAIN), 3);
    expect(() => createTileNormaliser(a, b)).toThrow(/differ in method/);
    expect(checkStainEstimate(JSON.parse(JSON.stringify(b)))).toEqual(b);
  });

  it('wsi stain: reinhard without a target, a bad region and a missing target are one-line errors', async () => {
    const out = path.join(tmp.path, 'x.png');
    await expect(command.run([CMU_SLIDE, '--method', 'reinhard', '-o', out])).rejects.toThrow(
      /needs a target|no built-in/,
    );
    await expect(command.run([CMU_SLIDE, '--region', '1,2,3', '-o', out])).rejects.toThrow(/X,Y,W,H/);
    await expect(command.run([CMU_SLIDE, '--target', '/nonexistent.svs', '-o', out])).rejects.toThrow(
      /not found/,
    );
    await expect(command.run([CMU_SLIDE, '--method', 'ruifrok'])).rejects.toThrow(/must be one of/);
  });
});

describe('real slides (../shared/data/slides)', () => {
  mkdirSync(artifacts, { recursive: true });

  it('estimates plausible H&E vectors on CMU-1 and TCGA from tissue, and normalises TCGA to CMU-1', async () => {
    const cmu = await openSlide(CMU_SLIDE);
    const tcga = await openSlide(TCGA_SLIDE);
    try {
      const cmuMask = (await estimateSlideStain(cmu, 'reinhard')).sample.mask;
      const tcgaMask = (await estimateSlideStain(tcga, 'reinhard')).sample.mask;
      for (const method of ['macenko', 'vahadane'] as const) {
        const target = (await estimateSlideStain(cmu, method, { mask: cmuMask })).estimate as StainMatrix;
        const source = (await estimateSlideStain(tcga, method, { mask: tcgaMask })).estimate as StainMatrix;
        for (const e of [target, source]) {
          // Haematoxylin absorbs red more than eosin does; both vectors are distinct and non-negative.
          expect(e.h[0]).toBeGreaterThan(e.e[0]);
          expect(angleDeg(e.h, e.e)).toBeGreaterThan(10);
          expect(Math.min(...e.h, ...e.e)).toBeGreaterThanOrEqual(0);
        }
        // Glass: CMU-1's scanned glass is ~(246, 243, 243); TCGA's ~236 (its 255 padding is not glass).
        expect(target.background[0]).toBeGreaterThan(238);
        expect(source.background[1]).toBeLessThan(245);
        const thumb = await tcga.thumbnail(768);
        const data = createTileNormaliser(source, target)(thumb.data, thumb.channels);
        await writeRgbImage(
          { ...thumb, data, channels: 3 },
          path.join(artifacts, `stain-tcga-to-cmu-${method}.png`),
        );
        // Normalised TCGA, re-estimated, has CMU-1's stain vectors (within the estimator's own noise).
        const again = estimateStain(method, data, 3, { background: target.background }) as StainMatrix;
        expect(angleDeg(again.h, target.h)).toBeLessThan(12);
        expect(angleDeg(again.e, target.e)).toBeLessThan(12);
      }
      const lt = (await estimateSlideStain(cmu, 'reinhard', { mask: cmuMask })).estimate;
      const ls = (await estimateSlideStain(tcga, 'reinhard', { mask: tcgaMask })).estimate;
      const thumb = await tcga.thumbnail(768);
      const data = createTileNormaliser(ls, lt)(thumb.data, thumb.channels);
      await writeRgbImage(
        { ...thumb, data, channels: 3 },
        path.join(artifacts, 'stain-tcga-to-cmu-reinhard.png'),
      );
      await writeRgbImage(thumb, path.join(artifacts, 'stain-tcga-original.png'));
    } finally {
      await cmu.close();
      await tcga.close();
    }
  }, 120_000);

  it('wsi stain prints the vectors and writes a normalised thumbnail and a JSON target it accepts back', async () => {
    const json = path.join(tmp.path, 'cmu.json');
    const out = path.join(artifacts, 'stain-cmu-macenko-reference.png');
    let printed = '';
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => {
      printed += s;
      return true;
    }) as typeof process.stdout.write;
    try {
      expect(await command.run([CMU_SLIDE, '--json', json, '-o', out, '--max', '512'])).toBe(0);
      expect(
        await command.run([CMU_SLIDE, '--region', '800,600,512,384', '-o', path.join(tmp.path, 'r.png')]),
      ).toBe(0);
      expect(
        await command.run([TCGA_SLIDE, '--target', json, '-o', path.join(tmp.path, 't.png'), '--max', '256']),
      ).toBe(0);
    } finally {
      process.stdout.write = write;
    }
    expect(printed).toMatch(/macenko: haematoxylin OD \[[\d., ]+\] \([\d.]+° from Ruifrok–Johnston H\)/);
    expect(printed).toMatch(/normalised \(macenko\)/);
  }, 120_000);
});
