/**
 * DICOMweb against a real server: Debian's Orthanc with its DicomWeb plugin on a loopback port. The
 * same slide read from files and through WADO-RS has the same id and the same pixels; a frame the
 * server no longer has is a MissingFrameError; an unknown series is SlideNotFoundError.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MissingFrameError, SlideNotFoundError } from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { dicomize } from './helpers/dicomizer.ts';
import { type OrthancServer, startOrthanc } from './helpers/orthanc.ts';
import { CMU_SLIDE, slidesDir, tempDir } from './helpers/paths.ts';

const tmp = tempDir('slide-dicomweb');
const cmuDir = path.join(tmp.path, 'cmu');
const PATHML = path.join(slidesDir, 'pathml_small_dicom.dcm');
let orthanc: OrthancServer;
let cmuUrl: string;
let pathmlUrl: string;

beforeAll(async () => {
  await dicomize(CMU_SLIDE, cmuDir);
  orthanc = await startOrthanc();
  [cmuUrl] = await orthanc.upload(readdirSync(cmuDir).map((f) => path.join(cmuDir, f)));
  [pathmlUrl] = await orthanc.upload([PATHML]);
}, 60_000);

afterAll(async () => {
  await orthanc?.stop();
  tmp.cleanup();
});

describe('DICOMweb (Orthanc)', () => {
  for (const [name, files, url] of [
    ['dicomizer series of CMU (3 levels, sparse tiles)', () => cmuDir, () => cmuUrl],
    ['pathml_small_dicom.dcm (TILED_FULL, no Pixel Spacing)', () => PATHML, () => pathmlUrl],
  ] as const) {
    it(`${name}: same id, levels, µm/px and pixels as from files`, async () => {
      const a = await openSlide(files());
      const b = await openSlide(url());
      try {
        expect(b.format).toBe('dicom');
        expect(b.id).toBe(a.id);
        expect(b.levels).toEqual(a.levels);
        expect(b.mpp).toEqual(a.mpp);
        for (let level = 0; level < a.levels.length; level++) {
          const L = a.levels[level];
          const ds = L.downsample;
          for (const [x, y, w, h] of [
            [0, 0, Math.min(L.width, 600), Math.min(L.height, 500)],
            [Math.round((L.width - 100) * ds), Math.round((L.height - 80) * ds), 150, 120],
          ]) {
            const ra = await a.readRegion({ level, x, y, width: w, height: h });
            const rb = await b.readRegion({ level, x, y, width: w, height: h });
            expect(
              Buffer.compare(Buffer.from(ra.data), Buffer.from(rb.data)),
              `level ${level} ${x},${y}`,
            ).toBe(0);
          }
        }
        const ta = await a.readRawTile?.(0, 1, 1);
        const tb = await b.readRawTile?.(0, 1, 1);
        expect(tb?.mime).toBe('image/jpeg');
        expect(tb?.bytes.length).toBe(ta?.bytes.length);
      } finally {
        await a.close();
        await b.close();
      }
    }, 60_000);
  }

  it('an unknown series is SlideNotFoundError; a frame gone from the server is MissingFrameError', async () => {
    await expect(openSlide(`${orthanc.dicomWeb}/studies/1.2.3/series/4.5.6`)).rejects.toThrow(
      SlideNotFoundError,
    );
    const slide = await openSlide(pathmlUrl);
    try {
      // Delete the instance behind the slide's back, then read a tile not yet cached.
      const sop = '1.2.826.0.1.3680043.8.498.68150658149526723248333395019651960593.4'; // pathml's instance
      const [hit] = (await (
        await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', body: sop })
      ).json()) as { ID: string }[];
      expect((await fetch(`${orthanc.url}/instances/${hit.ID}`, { method: 'DELETE' })).ok).toBe(true);
      const err = await slide.readTile(0, 3, 3).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MissingFrameError);
      expect((err as Error).message).toMatch(/frame 25 is not on the server/);
    } finally {
      await slide.close();
    }
  });
});
