/** Writes an RGBImage to .png / .jpg / .tif / .webp (chosen by extension) with sharp. */
import { mkdirSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import type { Sharp } from 'sharp';
import { ConfigError, FileAccessError } from '../errors.ts';
import { loadSharp } from './sharp-setup.ts';
import type { RGBImage } from './types.ts';

const FORMATS: Record<string, 'png' | 'jpeg' | 'tiff' | 'webp'> = {
  '.png': 'png',
  '.jpg': 'jpeg',
  '.jpeg': 'jpeg',
  '.tif': 'tiff',
  '.tiff': 'tiff',
  '.webp': 'webp',
};

export function imageFormatFor(path: string): 'png' | 'jpeg' | 'tiff' | 'webp' {
  const f = FORMATS[extname(path).toLowerCase()];
  if (!f) throw new ConfigError(`-o ${path}: use a .png, .jpg, .tif or .webp file name`);
  return f;
}

export async function writeRgbImage(img: RGBImage, path: string): Promise<void> {
  const format = imageFormatFor(path);
  mkdirSync(dirname(path), { recursive: true });
  const sharp = await loadSharp();
  await saveImageFile(
    sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } }).toFormat(
      format,
      format === 'jpeg' ? { quality: 92 } : {},
    ),
    path,
  );
}

/** sharp's toFile, with a one-line FileAccessError naming the file when it cannot be written. */
export async function saveImageFile(image: Sharp, path: string): Promise<void> {
  try {
    await image.toFile(path);
  } catch (err) {
    throw new FileAccessError(`cannot write ${path}: ${(err as Error).message.split('\n')[0]}`, {
      cause: err,
    });
  }
}
