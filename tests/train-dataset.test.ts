import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticSet, parseLesionSpec } from '../fixtures/camelyon/generate.ts';
import { findAnnotationFile, readAnnotationFile } from '../pipeline/annotations/index.ts';
import { labelPatches, planGrid, readPatch } from '../pipeline/patches/index.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { detectTissue } from '../pipeline/tissue/index.ts';
import { buildPatchSet, resolveSlidePaths, slideSources } from '../pipeline/train/dataset.ts';

const tmp = mkdtempSync(join(tmpdir(), 'train-dataset-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const P = 68;
beforeAll(async () => {
  await generateSyntheticSet({
    out: tmp,
    slides: 2,
    seed: 9,
    size: 2048,
    tumourShare: 0.5,
    lesions: parseLesionSpec('small:1,itc:0'),
  });
});

describe('training patch set', () => {
  it('holds exactly the patches, labels and pixels the patch pipeline gives', async () => {
    const paths = await resolveSlidePaths(join(tmp, 'slides'));
    const set = await buildPatchSet(slideSources(paths, join(tmp, 'annotations')), { mpp: 1, patchSize: P });
    expect(set.labels.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    let offset = 0;
    for (let s = 0; s < paths.length; s++) {
      const slide = await openSlide(paths[s]);
      try {
        const grid = planGrid(slide, await detectTissue(slide), {
          resolution: { mpp: 1 },
          size: P,
          minTissue: 0.5,
        });
        const file = findAnnotationFile(join(tmp, 'annotations'), paths[s]);
        const labels = labelPatches(grid, P, file ? readAnnotationFile(file) : []);
        const refs = set.refs.filter((r) => r.slide === s);
        expect(refs.map((r) => [r.x, r.y, r.size, r.label])).toEqual(
          grid.map((g, i) => [g.x, g.y, g.width, labels[i]]),
        );
        // Pixels equal a per-patch read of the same patch (a sample of them, to stay quick).
        for (let i = 0; i < refs.length; i += 5) {
          const img = await readPatch(slide, refs[i], P, { mpp: 1 });
          const own = set.pixels.subarray((offset + i) * P * P * 3, (offset + i + 1) * P * P * 3);
          const theirs = new Uint8Array(P * P * 3);
          for (let k = 0; k < P * P; k++)
            for (let c = 0; c < 3; c++) theirs[k * 3 + c] = img.data[k * img.channels + c];
          expect(Buffer.compare(Buffer.from(own), Buffer.from(theirs))).toBe(0);
        }
        offset += refs.length;
      } finally {
        await slide.close();
      }
    }
    expect(offset).toBe(set.refs.length);
  });

  it('treats a slide without an annotation file as normal', async () => {
    const paths = await resolveSlidePaths(join(tmp, 'slides'));
    const set = await buildPatchSet(slideSources(paths, tmp), { mpp: 1, patchSize: P });
    expect(set.slides.every((s) => s.truth === null)).toBe(true);
    expect(set.refs.length).toBeGreaterThan(0);
    expect(set.labels.every((l) => l === 0)).toBe(true);
  });
});
