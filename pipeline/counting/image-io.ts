/**
 * Reading plain images (PNG/JPEG/TIFF files of a plate or a dataset) as 8-bit pixels, and the
 * ground-truth formats of the counting datasets: dot images (one coloured pixel per cell) and
 * instance label maps (8- or 16-bit PNG, 0 = background).
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { SlideFormatError, SlideNotFoundError } from '../errors.ts';
import type { PixelImage } from './types.ts';

async function checkFile(path: string): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new SlideNotFoundError(`${path} is not a file`);
    if (s.size === 0) throw new SlideFormatError(`${path} is empty`);
  } catch (err) {
    if (err instanceof SlideNotFoundError || err instanceof SlideFormatError) throw err;
    throw new SlideNotFoundError(`cannot open ${path}: no such file`);
  }
}

/** RGB pixels of an image file (alpha dropped, greyscale expanded to 3 channels). */
export async function readImage(path: string): Promise<PixelImage> {
  await checkFile(path);
  try {
    const { data, info } = await sharp(path, { limitInputPixels: 1 << 28 })
      .removeAlpha()
      .toColourspace('srgb')
      .raw()
      .toBuffer({ resolveWithObject: true });
    return {
      data: new Uint8Array(data.buffer, data.byteOffset, data.length),
      width: info.width,
      height: info.height,
      channels: info.channels,
    };
  } catch (err) {
    throw new SlideFormatError(`${path} is not a readable image (${(err as Error).message.split('\n')[0]})`);
  }
}

/** Dot annotations: pixels whose largest channel is > 127 mark one cell each (VGG uses red, MBM white/grey). */
export async function readDots(path: string): Promise<{ x: number; y: number }[]> {
  const img = await readImage(path);
  const dots: { x: number; y: number }[] = [];
  const c = img.channels;
  for (let p = 0, q = 0; p < img.width * img.height; p++, q += c) {
    if (img.data[q] > 127 || img.data[q + 1] > 127 || img.data[q + 2] > 127) {
      dots.push({ x: p % img.width, y: Math.floor(p / img.width) });
    }
  }
  return dots;
}

/** An instance label map (8- or 16-bit single-channel PNG) as integers. */
export async function readLabelMap(
  path: string,
): Promise<{ labels: Int32Array; width: number; height: number }> {
  await checkFile(path);
  const meta = await sharp(path).metadata();
  const sixteen = meta.depth === 'ushort';
  const { data, info } = await sharp(path)
    .extractChannel(0)
    .toColourspace(sixteen ? 'grey16' : 'b-w')
    .raw({ depth: sixteen ? 'ushort' : 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const n = info.width * info.height;
  const labels = new Int32Array(n);
  if (sixteen) {
    const v = new Uint16Array(data.buffer, data.byteOffset, n);
    for (let i = 0; i < n; i++) labels[i] = v[i];
  } else {
    for (let i = 0; i < n; i++) labels[i] = data[i];
  }
  return { labels, width: info.width, height: info.height };
}
