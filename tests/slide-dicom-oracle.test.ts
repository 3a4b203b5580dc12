/**
 * DICOM pixel oracles on real slides.
 * - Orthanc's dicomizer (Debian orthanc-wsi, an independent DICOM WSI writer) turns each real .svs
 *   into a DICOM series; level 0 must match OpenSlide's pixels of the source .svs within the bound
 *   the TIFF reader meets (MAD ≤ 1.5 per channel; measured 0 for CMU, whose frames are the source's
 *   own JPEG tiles, and ≈ 0.8 for TCGA, re-encoded from JPEG 2000). Its reduced levels are its own
 *   resampling (not OpenSlide's levels), so at every level we check against pydicom's decoding of
 *   the same frames instead (max difference ≤ 1).
 * - pathml_small_dicom.dcm (a real, not fully conformant file) against pydicom's frames. Its header
 *   says RGB but its frames are JFIF (YCbCr) JPEG: pydicom keeps the stored samples, libjpeg (and
 *   OpenSlide, browsers, this reader) convert as the JFIF marker says. The helper converts pydicom's
 *   samples the same way (--jfif-is-ycbcr); without it they differ by up to 169 (measured).
 * - Resolution: with --imaged-width/height from the slide's µm/px we report that µm/px; without,
 *   the dicomizer writes a 15 mm default and we report the Pixel Spacing that gives, as the file says.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlide } from '../pipeline/slide/index.ts';
import type { Slide } from '../pipeline/slide/types.ts';
import { dicomize } from './helpers/dicomizer.ts';
import { CMU_SLIDE, repoRoot, slidesDir, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const PATHML_DICOM = path.join(slidesDir, 'pathml_small_dicom.dcm');

type Region = [level: number, x: number, y: number, width: number, height: number];

function openslideRegions(slide: string, regions: Region[]): Buffer {
  return execFileSync(
    '/usr/bin/python3',
    [path.join(repoRoot, 'tests/helpers/openslide_regions.py'), slide],
    {
      input: JSON.stringify(regions),
      maxBuffer: 1 << 28,
    },
  );
}

function pydicomFrames(file: string): Buffer {
  return execFileSync(
    '/usr/bin/python3',
    [path.join(repoRoot, 'tests/helpers/pydicom_frames.py'), file, '--jfif-is-ycbcr'],
    {
      maxBuffer: 1 << 29,
    },
  );
}

function channelMad(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

function seeded(seed: number) {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
}

/** Level-0 regions: random, straddling tile corners, past each border, the origin. */
function level0Regions(s: Slide): Region[] {
  const rnd = seeded(20_261_202);
  const out: Region[] = [];
  for (let i = 0; i < 12; i++) {
    out.push([
      0,
      Math.floor(rnd() * (s.width - 40)),
      Math.floor(rnd() * (s.height - 40)),
      32 + Math.floor(rnd() * 200),
      32 + Math.floor(rnd() * 200),
    ]);
  }
  const t = s.levels[0].tileWidth;
  out.push(
    [0, 2 * t - 7, t - 5, 40, 30],
    [0, s.width - 50, Math.floor(s.height / 2), 100, 40],
    [0, Math.floor(s.width / 3), s.height - 30, 60, 80],
    [0, -20, -10, 64, 48],
    [0, 0, 0, 200, 150],
  );
  return out;
}

/** Compares every frame of one instance file (its level in `slide`) with pydicom's decoding. */
async function checkInstanceAgainstPydicom(slide: Slide, level: number, file: string): Promise<number> {
  const ref = pydicomFrames(file);
  const L = slide.levels[level];
  const frameBytes = L.tileWidth * L.tileHeight * 3;
  const frames = ref.length / frameBytes;
  expect(Number.isInteger(frames)).toBe(true);
  // Assemble pydicom's frames by our tile map order (row-major, as TILED_FULL or the positions say).
  const whole = (await slide.readRegion({ x: 0, y: 0, width: L.width, height: L.height, level })).data;
  const cols = Math.ceil(L.width / L.tileWidth);
  let worst = 0;
  const positions = framePositions(file);
  for (let f = 0; f < frames; f++) {
    const [px, py] = positions
      ? positions[f]
      : [(f % cols) * L.tileWidth, Math.floor(f / cols) * L.tileHeight];
    for (let y = 0; y < L.tileHeight && py + y < L.height; y++) {
      for (let x = 0; x < L.tileWidth && px + x < L.width; x++) {
        for (let c = 0; c < 3; c++) {
          const d = Math.abs(
            whole[((py + y) * L.width + px + x) * 3 + c] -
              ref[f * frameBytes + (y * L.tileWidth + x) * 3 + c],
          );
          if (d > worst) worst = d;
        }
      }
    }
  }
  return worst;
}

/** Frame positions (0-based px) from the per-frame groups, via pydicom; undefined for TILED_FULL files. */
function framePositions(file: string): [number, number][] | undefined {
  const out = execFileSync('/usr/bin/python3', [
    '-c',
    `import pydicom,json,warnings
warnings.simplefilter('ignore')
ds=pydicom.dcmread(${JSON.stringify(file)},stop_before_pixels=True)
fg=ds.get('PerFrameFunctionalGroupsSequence')
print(json.dumps(None if not fg or 'PlanePositionSlideSequence' not in fg[0] else [[int(f.PlanePositionSlideSequence[0].ColumnPositionInTotalImagePixelMatrix)-1,int(f.PlanePositionSlideSequence[0].RowPositionInTotalImagePixelMatrix)-1] for f in fg]))`,
  ]);
  return JSON.parse(out.toString()) as [number, number][] | undefined;
}

function totalColumns(file: string): number {
  const out = execFileSync('/usr/bin/python3', [
    '-c',
    `import pydicom,warnings\nwarnings.simplefilter('ignore')\nprint(pydicom.dcmread(${JSON.stringify(file)},stop_before_pixels=True).TotalPixelMatrixColumns)`,
  ]);
  return Number(out.toString());
}

const tmp = tempDir('slide-dicom-oracle');
afterAll(() => tmp.cleanup());

describe('DICOM series made by Orthanc’s dicomizer from the real slides', () => {
  const cmu = path.join(tmp.path, 'cmu');
  const tcgaJpeg = path.join(tmp.path, 'tcga-jpeg');
  const tcgaJ2k = path.join(tmp.path, 'tcga-j2k');
  const CMU_MPP = 0.499;
  beforeAll(async () => {
    // The dicomizer's imaged width runs along the slide's X axis, which its Image Orientation (Slide)
    // (0,-1,0,-1,0,0) puts down the image's rows: width ← rows × µm/px, height ← columns × µm/px.
    // TCGA records no µm/px, so it gets the 15 mm default. Its series only need level 0 (one level:
    // JPEG 2000 encoding of the whole pyramid is slow on a shared machine).
    await Promise.all([
      dicomize(CMU_SLIDE, cmu, [
        '--imaged-width',
        String((2967 * CMU_MPP) / 1000),
        '--imaged-height',
        String((2220 * CMU_MPP) / 1000),
      ]),
      dicomize(TCGA_SLIDE, tcgaJpeg, [], 1),
      dicomize(TCGA_SLIDE, tcgaJ2k, ['--compression', 'jpeg2000'], 1),
    ]);
  }, 240_000);

  for (const [name, dir, source] of [
    ['CMU (source JPEG tiles, YBR_FULL_422)', () => cmu, CMU_SLIDE],
    ['TCGA (JPEG 2000)', () => tcgaJ2k, TCGA_SLIDE],
  ] as const) {
    it(`${name}: level 0 matches OpenSlide on the source slide at random, tile-edge and border regions`, async () => {
      const slide = await openSlide(dir());
      try {
        const regions = level0Regions(slide);
        const ref = openslideRegions(source, regions);
        let o = 0;
        let worst = 0;
        for (const [level, x, y, width, height] of regions) {
          const n = width * height * 3;
          const ours = (await slide.readRegion({ level, x, y, width, height })).data;
          const m = channelMad(ours, ref.subarray(o, o + n));
          o += n;
          expect(m, `${x},${y} ${width}×${height}`).toBeLessThanOrEqual(1.5);
          worst = Math.max(worst, m);
        }
        expect(o).toBe(ref.length);
        if (source === CMU_SLIDE) expect(worst).toBe(0); // the source's own JPEG tiles: exact
      } finally {
        await slide.close();
      }
    });
  }

  it('every reduced level matches pydicom’s decoding of the same frames', async () => {
    // (pydicom's Pillow cannot decode CMU's level-0 frames, the source's RGB tiles with an Adobe
    // marker: that level is checked exactly against OpenSlide above. pydicom's JPEG 2000 decoding
    // takes minutes here, so the JPEG 2000 series is checked against OpenSlide only.)
    const slide = await openSlide(cmu);
    try {
      for (const name of ['wsi-000001.dcm', 'wsi-000002.dcm']) {
        const file = path.join(cmu, name);
        const level = slide.levels.findIndex((l) => l.width === totalColumns(file));
        expect(level).toBeGreaterThan(0);
        expect(await checkInstanceAgainstPydicom(slide, level, file), file).toBeLessThanOrEqual(1);
      }
    } finally {
      await slide.close();
    }
  }, 60_000);

  it('µm/px: the slide’s own with the imaged size given; the dicomizer’s 15 mm default reported as the file says', async () => {
    const a = await openSlide(cmu);
    expect(a.mpp?.x).toBeCloseTo(CMU_MPP, 3);
    expect(a.mpp?.y).toBeCloseTo(CMU_MPP, 3);
    await a.close();
    const b = await openSlide(tcgaJpeg);
    // Re-encoded JPEG (quality 90) of the JPEG 2000 source: near OpenSlide's pixels, not within the lossless bound.
    const r = (await b.readRegion({ level: 0, x: 1000, y: 1000, width: 256, height: 256 })).data;
    expect(channelMad(r, openslideRegions(TCGA_SLIDE, [[0, 1000, 1000, 256, 256]]))).toBeLessThan(4);
    // 15 mm over 4443 × 3567 px: what its Pixel Spacing says, however wrong for this slide.
    expect(b.mpp?.x).toBeCloseTo(15_000 / 4443, 3);
    expect(b.mpp?.y).toBeCloseTo(15_000 / 3567, 3);
    expect(b.properties['dicom.ImagedVolumeWidth']).toBe('15');
    await b.close();
  });
});

describe('pathml_small_dicom.dcm (real file, JPEG baseline, no Pixel Spacing)', () => {
  it('matches pydicom’s decoded frames; µm/px unknown', async () => {
    const slide = await openSlide(PATHML_DICOM);
    try {
      expect([slide.width, slide.height]).toEqual([3236, 2638]);
      expect(slide.levels).toHaveLength(1);
      expect(slide.mpp).toBeUndefined();
      expect(await checkInstanceAgainstPydicom(slide, 0, PATHML_DICOM)).toBeLessThanOrEqual(1);
    } finally {
      await slide.close();
    }
  }, 60_000);
});
