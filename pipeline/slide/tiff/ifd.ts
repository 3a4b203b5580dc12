/**
 * One TIFF image file directory reduced to plain values: geometry, coding, metadata and where its
 * blocks (tiles or strips) are. Block offset arrays are loaded once, when a level is first used.
 */
import type { ImageFileDirectory } from 'geotiff';
import { SlideFormatError, WsiError } from '../../errors.ts';
import { checkBlockSize, checkImageSize } from '../limits.ts';
import { Tag } from './tags.ts';

export interface IfdInfo {
  width: number;
  height: number;
  tiled: boolean;
  /** Block size: the tile, or for stripped images the full width × RowsPerStrip. */
  blockWidth: number;
  blockHeight: number;
  compression: number;
  photometric: number;
  samplesPerPixel: number;
  bitsPerSample: number;
  planar: number;
  predictor: number;
  subfileType: number;
  description: string;
  software: string;
  jpegTables?: Uint8Array;
  xResolution?: number;
  yResolution?: number;
  /** 1 none, 2 inch, 3 centimetre. */
  resolutionUnit: number;
  subIfdOffsets: number[];
  /** Loads TileOffsets/TileByteCounts (or the strip equivalents) as plain number arrays. */
  loadBlocks(): Promise<{ offsets: Float64Array; counts: Float64Array }>;
}

type Raw = Awaited<ReturnType<ImageFileDirectory['loadValue']>>;

function toNumbers(v: Raw): number[] {
  if (v === undefined || v === null) return [];
  if (typeof v === 'number') return [v];
  if (typeof v === 'bigint') return [Number(v)];
  if (typeof v === 'string') return [];
  return Array.from(v as ArrayLike<number | bigint>, (x) => Number(x));
}

function first(v: Raw, fallback: number): number {
  const n = toNumbers(v);
  return n.length > 0 && Number.isFinite(n[0]) ? n[0] : fallback;
}

/** RATIONAL tags arrive as [numerator, denominator] pairs. */
function rational(v: Raw): number | undefined {
  const n = toNumbers(v);
  if (n.length >= 2 && n[1] !== 0) return n[0] / n[1];
  if (n.length === 1) return n[0];
  return undefined;
}

function text(v: Raw): string {
  if (typeof v === 'string') return v.replace(/\0+$/, '');
  return '';
}

export async function readIfd(ifd: ImageFileDirectory, what: string): Promise<IfdInfo> {
  const get = (tag: number) => ifd.loadValue(tag);
  try {
    const width = first(await get(Tag.ImageWidth), 0);
    const height = first(await get(Tag.ImageLength), 0);
    checkImageSize(what, width, height);
    const tiled = ifd.hasTag(Tag.TileWidth) && ifd.hasTag(Tag.TileOffsets);
    const blockWidth = tiled ? first(await get(Tag.TileWidth), 0) : width;
    const blockHeight = tiled
      ? first(await get(Tag.TileLength), 0)
      : Math.min(height, first(await get(Tag.RowsPerStrip), height));
    checkBlockSize(what, blockWidth, blockHeight);
    if (!tiled && !ifd.hasTag(Tag.StripOffsets))
      throw new SlideFormatError(`${what} has neither tiles nor strips`);
    const bits = toNumbers(await get(Tag.BitsPerSample));
    const tables = await get(Tag.JPEGTables);
    const offsetsTag = tiled ? Tag.TileOffsets : Tag.StripOffsets;
    const countsTag = tiled ? Tag.TileByteCounts : Tag.StripByteCounts;
    let blocks: Promise<{ offsets: Float64Array; counts: Float64Array }> | undefined;
    return {
      width,
      height,
      tiled,
      blockWidth,
      blockHeight,
      compression: first(await get(Tag.Compression), 1),
      photometric: first(await get(Tag.Photometric), 2),
      samplesPerPixel: first(await get(Tag.SamplesPerPixel), 1),
      bitsPerSample: bits.length > 0 ? bits[0] : 1,
      planar: first(await get(Tag.PlanarConfiguration), 1),
      predictor: first(await get(Tag.Predictor), 1),
      subfileType: first(await get(Tag.NewSubfileType), 0),
      description: text(await get(Tag.ImageDescription)),
      software: text(await get(Tag.Software)),
      jpegTables: tables instanceof Uint8Array ? tables : undefined,
      xResolution: rational(await get(Tag.XResolution)),
      yResolution: rational(await get(Tag.YResolution)),
      resolutionUnit: first(await get(Tag.ResolutionUnit), 2),
      subIfdOffsets: toNumbers(await get(Tag.SubIFDs)),
      loadBlocks() {
        blocks ??= (async () => {
          const offsets = Float64Array.from(toNumbers(await get(offsetsTag)));
          const counts = Float64Array.from(toNumbers(await get(countsTag)));
          return { offsets, counts };
        })();
        return blocks;
      },
    };
  } catch (err) {
    if (err instanceof WsiError) throw err;
    throw new SlideFormatError(`${what}: unreadable TIFF directory (${(err as Error).message})`, {
      cause: err,
    });
  }
}
