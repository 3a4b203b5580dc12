/**
 * `wsi synth --centre`: slides that differ as hospitals do, while the default output stays the original
 * generator's byte for byte (hashes recorded from the generator before centres existed).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CENTRES, resolveCentre } from '../fixtures/camelyon/centre.ts';
import { generateSyntheticSet } from '../fixtures/camelyon/generate.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { angleDeg, estimateSlideStain, type StainMatrix } from '../pipeline/stain/index.ts';
import { tempDir } from './helpers/paths.ts';

const tmp = tempDir('synth-centres');
afterAll(() => tmp.cleanup());
const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');

describe('wsi synth centres', () => {
  it('leaves the default output unchanged (same bytes as before centres existed)', async () => {
    await generateSyntheticSet({ out: join(tmp.path, 'default'), slides: 2, seed: 5, size: 2048 });
    expect(sha(join(tmp.path, 'default/slides/slide_001.tif'))).toBe(
      'c167099ccd7e7997c7edc6cb08dccb24d640f74e3dcc3de18f138e6f0e79f349',
    );
    expect(sha(join(tmp.path, 'default/slides/slide_002.tif'))).toBe(
      '1ba09aa9026878032e273020736b61f8986d9439c865291bc609c8435c7ef56e',
    );
  }, 120_000);

  it('a centre changes the stain the way it says, keeps the layout, and states the same µm/px', async () => {
    const out = join(tmp.path, 'pale');
    const infos = await generateSyntheticSet({
      out,
      slides: 1,
      seed: 5,
      size: 2048,
      tumourShare: 1,
      centre: CENTRES['pale-blue'],
      centreName: 'pale-blue',
    });
    const ref = await generateSyntheticSet({
      out: join(tmp.path, 'ref'),
      slides: 1,
      seed: 5,
      size: 2048,
      tumourShare: 1,
    });
    expect(infos[0].lesions).toEqual(ref[0].lesions); // same tissue and lesions, only the look differs
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.centre).toBe('pale-blue');
    const a = await openSlide(infos[0].file);
    const b = await openSlide(ref[0].file);
    try {
      expect(a.mpp?.x).toBeCloseTo(0.25, 6);
      const ea = (await estimateSlideStain(a, 'macenko')).estimate as StainMatrix;
      const eb = (await estimateSlideStain(b, 'macenko')).estimate as StainMatrix;
      // Haematoxylin moved towards the centre's (bluer: more red absorbed) direction.
      expect(ea.h[0] / ea.h[2]).toBeGreaterThan(eb.h[0] / eb.h[2]);
      expect(angleDeg(ea.h, eb.h)).toBeGreaterThan(5);
    } finally {
      await a.close();
      await b.close();
    }
  }, 180_000);

  it('validates --centre and --centre-params with one-line errors', () => {
    expect(() => resolveCentre('mars', undefined)).toThrow(ConfigError);
    expect(() => resolveCentre(undefined, '{"blur": 1}')).toThrow(/unknown field 'blur'/);
    expect(() => resolveCentre(undefined, '{"jpegQuality": 0}')).toThrow(
      /jpegQuality must be a number from 10/,
    );
    expect(() => resolveCentre(undefined, '{"stainH": [1, 2]}')).toThrow(/three numbers/);
    expect(() => resolveCentre(undefined, 'nope')).toThrow(/not valid JSON/);
    expect(resolveCentre('far', '{"noise": 4}')).toMatchObject({ noise: 4, thickness: 1.45 });
    expect(resolveCentre(undefined, undefined)).toBeUndefined();
  });
});
