import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAsapXml } from '../fixtures/camelyon/asap-xml.ts';
import { generateSyntheticSet, parseLesionSpec, type SynthSlideInfo } from '../fixtures/camelyon/generate.ts';
import { renderRegion } from '../fixtures/camelyon/render.ts';
import { buildScene } from '../fixtures/camelyon/scene.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { readAsapTruth } from '../pipeline/eval/asap.ts';
import { evaluationMask } from '../pipeline/eval/froc.ts';
import { openSlide } from '../pipeline/slide/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'synth-'));
let infos: SynthSlideInfo[];
const options = {
  slides: 2,
  seed: 42,
  size: 3072,
  tumourShare: 0.5,
  lesions: parseLesionSpec('large:0,small:1,itc:1'),
};

beforeAll(async () => {
  infos = await generateSyntheticSet({ out: join(tmp, 'a'), ...options });
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Mean RGB of a 32×32 window at 1 µm/px. */
async function meanColour(file: string, x: number, y: number): Promise<number[]> {
  const slide = await openSlide(file);
  try {
    const img = await slide.readAt({ x: x - 64, y: y - 64, width: 32, height: 32, mpp: 1 });
    const sum = [0, 0, 0];
    for (let k = 0; k < img.width * img.height; k++)
      for (let c = 0; c < 3; c++) sum[c] += img.data[k * img.channels + c];
    return sum.map((s) => s / (img.width * img.height));
  } finally {
    await slide.close();
  }
}

describe('CAMELYON-style synthetic set', () => {
  it('writes one tumour and one normal slide, truth only for the tumour slide, and a reference CSV', () => {
    expect(infos.map((s) => s.tumour).sort()).toEqual([false, true]);
    const tumour = infos.find((s) => s.tumour)!;
    const normal = infos.find((s) => !s.tumour)!;
    expect(existsSync(join(tmp, 'a', 'annotations', `${tumour.name}.xml`))).toBe(true);
    expect(existsSync(join(tmp, 'a', 'annotations', `${normal.name}.xml`))).toBe(false);
    expect(
      readFileSync(join(tmp, 'a', 'reference.csv'), 'utf8')
        .trim()
        .split('\n')
        .sort(),
    ).toEqual([`${tumour.name},Tumor`, `${normal.name},Normal`].sort());
    expect(tumour.lesions.map((l) => l.kind).sort()).toEqual(['itc', 'small']);
  });

  it('opens as a pyramidal slide with 0.25 µm/px', async () => {
    const slide = await openSlide(infos[0].file);
    try {
      expect(slide.mpp?.x).toBeCloseTo(0.25, 6);
      expect(slide.width).toBe(3072);
      expect(slide.levels.length).toBeGreaterThanOrEqual(3);
    } finally {
      await slide.close();
    }
  });

  it('gives truth the CAMELYON16 evaluation sees as one lesion and one isolated tumour cell cluster', () => {
    const tumour = infos.find((s) => s.tumour)!;
    const mask = evaluationMask(readAsapTruth(tumour.annotation!), 0.25, { width: 96, height: 96 });
    expect(mask.regions).toBe(2);
    expect(mask.itc.size).toBe(1);
  });

  it('draws tumour that looks different from the lymphoid tissue around it', async () => {
    const tumour = infos.find((s) => s.tumour)!;
    const lesion = tumour.lesions.find((l) => l.kind === 'small')!;
    const inside = await meanColour(tumour.file, lesion.cx, lesion.cy);
    // Tissue centre of the normal slide, far from background.
    const normal = await meanColour(infos.find((s) => !s.tumour)!.file, 1536, 1536);
    // Not background (glass is ~240 in every channel) and not the same colour as lymphoid tissue.
    expect(Math.min(...inside)).toBeLessThan(220);
    const diff = Math.hypot(...inside.map((v, c) => v - normal[c]));
    expect(diff).toBeGreaterThan(15);
  });

  it('is deterministic for a seed: the same scene, truth and pixels', () => {
    // Everything random comes from the scene description and hash noise: rebuild both and compare.
    const tumour = infos.find((x) => x.tumour)!;
    const spec = {
      seed: tumour.seed,
      width: 3072,
      height: 3072,
      mpp: 0.25,
      tumour: true,
      lesions: options.lesions,
    };
    const a = buildScene(spec);
    const b = buildScene(spec);
    expect(b).toEqual(a);
    expect(
      formatAsapXml(a.lesions.map((l) => ({ group: l.kind === 'itc' ? '_1' : '_0', points: l.polygon }))),
    ).toBe(readFileSync(tumour.annotation!, 'utf8'));
    const lesion = a.lesions[0];
    const win = {
      x: Math.round(lesion.cx) - 256,
      y: Math.round(lesion.cy) - 256,
      width: 512,
      height: 512,
      downsample: 1,
    };
    expect(sha256(renderRegion(b, win))).toBe(sha256(renderRegion(a, win)));
    // A different seed gives a different slide.
    expect(sha256(renderRegion(buildScene({ ...spec, seed: spec.seed + 1 }), win))).not.toBe(
      sha256(renderRegion(a, win)),
    );
  });

  it('reuses slides an earlier run wrote when asked, and redraws those whose content changed', async () => {
    const out = join(tmp, 'a');
    const before = infos.map((s) => statSync(s.file).mtimeMs);
    await generateSyntheticSet({ out, ...options, reuse: true });
    expect(infos.map((s) => statSync(s.file).mtimeMs)).toEqual(before);
    // No tumour slides any more: the tumour slide is redrawn without lesions and its XML removed.
    const again = await generateSyntheticSet({ out, ...options, tumourShare: 0, reuse: true });
    const changed = infos.findIndex((s) => s.tumour);
    expect(statSync(again[changed].file).mtimeMs).not.toBe(before[changed]);
    expect(statSync(again[1 - changed].file).mtimeMs).toBe(before[1 - changed]);
    expect(existsSync(join(out, 'annotations', `${infos[changed].name}.xml`))).toBe(false);
  });

  it('refuses bad lesion specs and sizes with named errors', async () => {
    expect(() => parseLesionSpec('huge:1')).toThrow(ConfigError);
    expect(() => parseLesionSpec('small:3-1')).toThrow(/bad range/);
    await expect(
      generateSyntheticSet({ out: join(tmp, 'c'), slides: 1, seed: 1, size: 100 }),
    ).rejects.toThrow(/--size/);
  });
});
