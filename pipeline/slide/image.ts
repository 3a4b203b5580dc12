/**
 * Plain PNG / JPEG (and anything else sharp decodes that is not a TIFF) as a one-level slide. These
 * are small images (plates, counting datasets): the whole image is one decoded tile.
 */
import { createHash } from 'node:crypto';
import { SlideFormatError } from '../errors.ts';
import type { LevelSource } from './level.ts';
import { checkImageSize, MAX_BLOCK_PIXELS } from './limits.ts';
import { loadSharp } from './sharp-setup.ts';
import { createTiledSlide } from './tiled-slide.ts';
import type { Mpp, OpenOptions, Slide } from './types.ts';

export async function openImageSlide(
  location: string,
  bytes: Uint8Array,
  format: 'png' | 'jpeg',
  options: OpenOptions,
): Promise<Slide> {
  const sharp = await loadSharp();
  let meta: Awaited<ReturnType<ReturnType<typeof sharp>['metadata']>>;
  try {
    meta = await sharp(bytes).metadata();
  } catch (err) {
    throw new SlideFormatError(`${location}: corrupt ${format.toUpperCase()} (${(err as Error).message})`, {
      cause: err,
    });
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  checkImageSize(location, width, height);
  if (width * height > MAX_BLOCK_PIXELS) {
    throw new SlideFormatError(
      `${location}: a ${width}×${height} ${format.toUpperCase()} is too large to read as one image`,
    );
  }
  let pixels: Uint8Array | undefined;
  const decode = async (): Promise<Uint8Array> => {
    if (pixels) return pixels;
    try {
      const out = await sharp(bytes, { limitInputPixels: false })
        .removeAlpha()
        .toColourspace('srgb')
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      if (out.info.channels !== 3 || out.info.width !== width || out.info.height !== height) {
        throw new Error(`decoded to ${out.info.width}×${out.info.height}×${out.info.channels}`);
      }
      pixels = new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength);
      return pixels;
    } catch (err) {
      throw new SlideFormatError(`${location}: corrupt ${format.toUpperCase()} (${(err as Error).message})`, {
        cause: err,
      });
    }
  };
  // Decode now so a truncated file fails at open, not at the first read.
  await decode();
  const level: LevelSource = {
    width,
    height,
    tileWidth: width,
    tileHeight: height,
    readTile: () => decode(),
    readRawTile: async () => bytes,
  };
  const id = createHash('sha256').update(`wsi-image-id/1 ${format}\n`).update(bytes).digest('hex');
  const m = options.mpp ?? options.fallbackMpp;
  const mpp: Mpp | undefined = m === undefined ? undefined : typeof m === 'number' ? { x: m, y: m } : m;
  return createTiledSlide({
    id,
    source: location,
    format,
    vendor: 'generic',
    levels: [level],
    mpp,
    objectivePower: undefined,
    properties: { 'image.format': format },
    associated: new Map(),
    // The decoded image is held by the level itself; caching it again would double the memory.
    cacheBytes: 0,
    close: async () => {
      pixels = undefined;
    },
  });
}
