/**
 * Registering a plate field in the store as a single-level slide. 8-bit images go through the slide
 * reader as before; a field the reader refuses (16-bit or multi-channel TIFF: the reader is 8-bit RGB
 * only) is registered from its size and a content hash built the same way as the reader's image ids.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { SlideFormatError } from '../errors.ts';
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import { type Store, upsertSlide } from '../store/index.ts';

export async function registerField(store: Store, file: string): Promise<string> {
  let slide: Slide;
  try {
    slide = await openSlide(file);
  } catch (err) {
    if (!(err instanceof SlideFormatError)) throw err;
    // A field image is small (one camera frame), so hashing it whole is bounded.
    const bytes = await readFile(file);
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw err;
    const format = meta.format ?? 'tiff';
    const id = createHash('sha256').update(`wsi-image-id/1 ${format}\n`).update(bytes).digest('hex');
    const level = {
      width: meta.width,
      height: meta.height,
      downsample: 1,
      tileWidth: meta.width,
      tileHeight: meta.height,
    };
    // upsertSlide reads only these fields of a Slide.
    const row = {
      id,
      source: path.resolve(file),
      format,
      vendor: 'generic',
      width: meta.width,
      height: meta.height,
      mpp: undefined,
      objectivePower: undefined,
      levels: [level],
    } as unknown as Slide;
    return upsertSlide(store, row);
  }
  try {
    return upsertSlide(store, slide);
  } finally {
    await slide.close();
  }
}
