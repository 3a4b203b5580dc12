/**
 * DICOM WSI reader on files from our own writer (fixtures/dicom-writer.ts): every way of finding
 * frames (basic / extended / empty offset table, split fragments, native), both tile organisations,
 * concatenations, focal planes, associated images, resolution, and each named error.
 */
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type DicomInstanceOptions, newUid, writeDicomInstance } from '../fixtures/dicom-writer.ts';
import {
  DicomNotSlideError,
  DicomSeriesError,
  MissingFrameError,
  MissingResolutionError,
  SlideFormatError,
  UnsupportedTransferSyntaxError,
} from '../pipeline/errors.ts';
import { expandSlidePaths } from '../pipeline/io/slide-files.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { tempDir } from './helpers/paths.ts';
import { codedPattern, compare, halve, renderPattern } from './helpers/synthetic.ts';

const tmp = tempDir('slide-dicom');
afterAll(() => tmp.cleanup());

const W = 300;
const H = 200;
const TILE = 64;
const level0 = renderPattern(codedPattern, W, H);

/** A tile of a raster (white past its edges). */
function tileOf(r: { data: Uint8Array; width: number; height: number }, size: number) {
  return (col: number, row: number): Uint8Array => {
    const t = new Uint8Array(size * size * 3).fill(255);
    for (let y = 0; y < size; y++) {
      const sy = row * size + y;
      if (sy >= r.height) break;
      const x0 = col * size;
      const n = Math.min(size, r.width - x0);
      if (n > 0) t.set(r.data.subarray((sy * r.width + x0) * 3, (sy * r.width + x0 + n) * 3), y * size * 3);
    }
    return t;
  };
}

let n = 0;
async function write(dir: string, o: Partial<DicomInstanceOptions> & Pick<DicomInstanceOptions, 'encoding'>) {
  const file = path.join(dir, `i${n++}.dcm`);
  await writeDicomInstance(file, {
    width: W,
    height: H,
    tileSize: TILE,
    tile: tileOf(level0, TILE),
    organization: 'TILED_FULL',
    offsetTable: 'basic',
    pixelSpacingMm: [0.0005, 0.0005],
    ...o,
  });
  return file;
}

function subdir(name: string): string {
  const d = path.join(tmp.path, name);
  mkdirSync(d, { recursive: true });
  return d;
}

async function wholeLevel0(p: string) {
  const s = await openSlide(p);
  try {
    return { slide: s, pixels: (await s.readRegion({ x: 0, y: 0, width: W, height: H, level: 0 })).data };
  } finally {
    await s.close();
  }
}

describe('DICOM frames, organisations and encodings', () => {
  it('uncompressed TILED_FULL, explicit and implicit VR, RGB and YBR_FULL: exact pixels, µm/px from Pixel Spacing', async () => {
    for (const o of [
      { encoding: 'explicit' as const },
      { encoding: 'implicit' as const },
      { encoding: 'explicit' as const, photometric: 'YBR_FULL' as const },
    ]) {
      const f = await write(tmp.path, o);
      const { slide, pixels } = await wholeLevel0(f);
      const d = compare(pixels, level0.data);
      if (o.photometric === 'YBR_FULL')
        expect(d.max).toBeLessThanOrEqual(2); // 8-bit YCbCr round trip
      else expect(d.differing).toBe(0);
      expect(slide.format).toBe('dicom');
      expect(slide.mpp).toEqual({ x: 0.5, y: 0.5 });
      expect(slide.levels[0]).toMatchObject({ width: W, height: H, tileWidth: TILE, tileHeight: TILE });
    }
  });

  it('JPEG frames found by basic, extended and empty offset tables and split fragments give the same pixels', async () => {
    const results: Uint8Array[] = [];
    for (const o of [
      { offsetTable: 'basic' as const },
      { offsetTable: 'extended' as const },
      { offsetTable: 'empty' as const },
      { offsetTable: 'empty' as const, fragmentsPerFrame: 3 },
      { offsetTable: 'basic' as const, fragmentsPerFrame: 2 },
    ]) {
      const f = await write(tmp.path, {
        encoding: 'jpeg',
        seriesUid: newUid(),
        studyUid: 'same',
        sopInstanceUid: 'same-sop',
        ...o,
      });
      results.push((await wholeLevel0(f)).pixels);
    }
    for (const r of results) expect(compare(r, results[0]).differing).toBe(0);
    // JPEG at quality 90 of a high-frequency pattern: close, not exact.
    expect(compare(results[0], level0.data).mad).toBeLessThan(12);
  });

  it('lossless JPEG 2000 (YBR_RCT) is exact', async () => {
    const f = await write(tmp.path, { encoding: 'jpeg2000', photometric: 'YBR_RCT', offsetTable: 'empty' });
    expect(compare((await wholeLevel0(f)).pixels, level0.data).differing).toBe(0);
  });

  it('a pyramid in a folder: levels ordered by size, a label kept aside; opening one file finds its series', async () => {
    const dir = subdir('pyramid');
    const study = newUid();
    const series = newUid();
    const l1 = halve(level0);
    await write(dir, {
      encoding: 'explicit',
      studyUid: study,
      seriesUid: series,
      instanceNumber: 2,
      width: l1.width,
      height: l1.height,
      tile: tileOf(l1, TILE),
      pixelSpacingMm: [0.001, 0.001],
    });
    const l0file = await write(dir, {
      encoding: 'explicit',
      studyUid: study,
      seriesUid: series,
      instanceNumber: 1,
    });
    await write(dir, {
      encoding: 'explicit',
      studyUid: study,
      seriesUid: series,
      imageType: 'LABEL',
      width: 40,
      height: 30,
      tile: () => new Uint8Array(TILE * TILE * 3).fill(7),
    });
    // Another series in the same folder is not part of it.
    await write(dir, { encoding: 'explicit', width: 50, height: 50 });
    const slide = await openSlide(l0file);
    try {
      expect(slide.levels.map((l) => [l.width, l.height])).toEqual([
        [W, H],
        [l1.width, l1.height],
      ]);
      expect(slide.associatedImages).toEqual(['label']);
      const r1 = await slide.readRegion({ x: 0, y: 0, width: l1.width, height: l1.height, level: 1 });
      expect(compare(r1.data, l1.data).differing).toBe(0);
      const label = await slide.readAssociatedImage('label');
      expect([label.width, label.height, label.data[0]]).toEqual([40, 30, 7]);
      // Outside the image is white; the border tiles are cropped right.
      const edge = await slide.readRegion({ x: W - 10, y: H - 10, width: 20, height: 20, level: 0 });
      expect(edge.data[(15 * 20 + 15) * 3]).toBe(255);
      expect(edge.data[(5 * 20 + 5) * 3]).toBe(level0.data[((H - 5) * W + W - 5) * 3]);
    } finally {
      await slide.close();
    }
    // The folder itself holds two series: refused, naming them.
    await expect(openSlide(dir)).rejects.toThrow(DicomSeriesError);
    // Given to a command, such a folder (a DICOM archive) is one slide per series: each named by its first
    // file, which opens with the rest of its series.
    const expanded = await expandSlidePaths([dir]);
    expect(expanded.length).toBe(2);
    const sizes: number[][] = [];
    for (const p of expanded) {
      const s = await openSlide(p);
      sizes.push(s.levels.map((l) => l.width));
      await s.close();
    }
    expect(sizes.sort((a, b) => a.length - b.length)).toEqual([[50], [W, l1.width]]);
    // A folder of one series stays one slide, named by the folder.
    const one = subdir('one-series');
    await write(one, { encoding: 'explicit' });
    expect(await expandSlidePaths([one])).toEqual([one]);
  });

  it('TILED_SPARSE: positions from per-frame groups, missing frames white, the first of two focal planes read', async () => {
    const inverted = (col: number, row: number) => tileOf(level0, TILE)(col, row).map((v) => 255 - v);
    const f = await write(tmp.path, {
      encoding: 'explicit',
      organization: 'TILED_SPARSE',
      focalPlanes: 2,
      tile: (col, row, plane) =>
        (col + row) % 3 === 1 ? null : plane === 0 ? tileOf(level0, TILE)(col, row) : inverted(col, row),
    });
    const slide = await openSlide(f);
    try {
      const img = (await slide.readRegion({ x: 0, y: 0, width: W, height: H, level: 0 })).data;
      const expected = Uint8Array.from(level0.data);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          if ((Math.floor(x / TILE) + Math.floor(y / TILE)) % 3 === 1)
            expected.fill(255, (y * W + x) * 3, (y * W + x) * 3 + 3);
      expect(compare(img, expected).differing).toBe(0);
      expect(slide.properties['dicom.FocalPlanes']).toMatch(/^2 /);
      expect(slide.properties['dicom.DimensionOrganizationType']).toBe('TILED_SPARSE');
    } finally {
      await slide.close();
    }
  });

  it('a concatenation (one level over two files) reads as one level; without one part it is refused', async () => {
    const dir = subdir('concat');
    const study = newUid();
    const series = newUid();
    const uid = newUid();
    const tiles = Math.ceil(W / TILE) * Math.ceil(H / TILE);
    const half = Math.floor(tiles / 2);
    await write(dir, {
      encoding: 'jpeg',
      offsetTable: 'empty',
      studyUid: study,
      seriesUid: series,
      concatenation: { uid, number: 1, first: 0, count: half },
    });
    const second = await write(dir, {
      encoding: 'jpeg',
      offsetTable: 'basic',
      studyUid: study,
      seriesUid: series,
      concatenation: { uid, number: 2, first: half, count: tiles - half },
    });
    const whole = await write(tmp.path, { encoding: 'jpeg' });
    const a = (await wholeLevel0(dir)).pixels;
    expect(compare(a, (await wholeLevel0(whole)).pixels).differing).toBe(0);
    const lone = subdir('concat-part');
    writeFileSync(path.join(lone, 'part2.dcm'), readFileSync(second));
    await expect(openSlide(lone)).rejects.toThrow(/frames for \d+ of its 20 tiles/);
    await expect(openSlide(lone)).rejects.toThrow(DicomSeriesError);
  });

  it('no Pixel Spacing: µm/px unknown (not derived from the imaged volume), readAt refuses', async () => {
    const f = await write(tmp.path, { encoding: 'explicit', pixelSpacingMm: undefined });
    const slide = await openSlide(f);
    try {
      expect(slide.mpp).toBeUndefined();
      expect(slide.properties['dicom.resolution']).toMatch(/unknown/);
      await expect(slide.readAt({ x: 0, y: 0, width: 10, height: 10, mpp: 1 })).rejects.toThrow(
        MissingResolutionError,
      );
    } finally {
      await slide.close();
    }
    const withFallback = await openSlide(f, { fallbackMpp: 0.25 });
    expect(withFallback.mpp).toEqual({ x: 0.25, y: 0.25 });
    await withFallback.close();
  });
});

describe('DICOM errors: named, one line', () => {
  it('a DICOM that is not a slide (CT image)', async () => {
    const f = await write(tmp.path, { encoding: 'explicit', sopClassUid: '1.2.840.10008.5.1.4.1.1.2' });
    const err = await openSlide(f).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DicomNotSlideError);
    expect((err as Error).message).toMatch(/CT Image.*not a whole-slide image/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('an unsupported transfer syntax is named', async () => {
    const f = await write(tmp.path, { encoding: 'jpeg', transferSyntaxUid: '1.2.840.10008.1.2.4.80' });
    const err = await openSlide(f).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnsupportedTransferSyntaxError);
    expect((err as Error).message).toMatch(/1\.2\.840\.10008\.1\.2\.4\.80 \(JPEG-LS Lossless\)/);
  });

  it('instances of one series that disagree (study, tile size)', async () => {
    const dir = subdir('disagree');
    const series = newUid();
    await write(dir, { encoding: 'explicit', seriesUid: series, studyUid: 'study.1' });
    await write(dir, {
      encoding: 'explicit',
      seriesUid: series,
      studyUid: 'study.2',
      width: 150,
      height: 100,
    });
    await expect(openSlide(dir)).rejects.toThrow(/disagree on the study/);
    const dir2 = subdir('disagree-tiles');
    const series2 = newUid();
    await write(dir2, {
      encoding: 'explicit',
      seriesUid: series2,
      studyUid: 's',
      concatenation: { uid: 'c', number: 1, first: 0, count: 10 },
    });
    await write(dir2, {
      encoding: 'explicit',
      seriesUid: series2,
      studyUid: 's',
      tileSize: 32,
      concatenation: { uid: 'c', number: 2, first: 10, count: 10 },
    });
    await expect(openSlide(dir2)).rejects.toThrow(DicomSeriesError);
  });

  it('a truncated file', async () => {
    for (const o of [{ offsetTable: 'basic' as const }, { offsetTable: 'empty' as const }]) {
      const f = await write(tmp.path, { encoding: 'jpeg', ...o });
      truncateSync(f, Math.floor(readFileSync(f).length * 0.6));
      const err = await openSlide(f).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SlideFormatError);
      expect((err as Error).message).toMatch(/truncated/);
    }
    const header = await write(tmp.path, { encoding: 'explicit' });
    truncateSync(header, 300);
    await expect(openSlide(header)).rejects.toThrow(/truncated/);
  });

  it('a missing frame (fewer frames in the pixel data than the header says)', async () => {
    const f = await write(tmp.path, { encoding: 'jpeg', offsetTable: 'empty', claimFrames: 21 });
    const err = await openSlide(f).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingFrameError);
    expect((err as Error).message).toMatch(/holds 20 of its 21 frames/);
  });
});
