/**
 * Reading one channel of a plate field: 8- or 16-bit greyscale, a page of a multi-page TIFF, or a
 * sample of a multi-sample TIFF, as floats in 0..1 of the file's full range (so a 16-bit image keeps
 * its dynamic range and saturation is a value of exactly 1).
 */
import { stat } from 'node:fs/promises';
import sharp from 'sharp';
import { ConfigError, SlideFormatError, SlideNotFoundError } from '../errors.ts';
import type { GrayImage } from './types.ts';

export interface ChannelImage extends GrayImage {
  bitDepth: 8 | 16;
  /** Channels the file holds (pages × samples). */
  channels: number;
}

export interface FileLayout {
  pages: number;
  samples: number;
  bitDepth: 8 | 16;
  /** 8-bit colour (an RGB photo, H&E): counted as a whole unless a channel is asked for. */
  rgb: boolean;
}

async function checkFile(file: string): Promise<void> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new SlideNotFoundError(`${file} is not a file`);
    size = s.size;
  } catch (err) {
    if (err instanceof SlideNotFoundError) throw err;
    throw new SlideNotFoundError(`cannot open ${file}: no such file`);
  }
  if (size === 0) throw new SlideFormatError(`${file} is empty`);
}

export async function fileLayout(file: string): Promise<FileLayout> {
  await checkFile(file);
  try {
    const m = await sharp(file).metadata();
    // A second sample of a grey TIFF is tagged as an extra sample, which libvips reports as alpha:
    // for channel choice every sample counts.
    const samples = m.channels ?? 1;
    const colour = samples - (m.hasAlpha ? 1 : 0);
    const bitDepth = m.depth === 'ushort' || m.depth === 'short' ? 16 : 8;
    return {
      pages: m.pages ?? 1,
      samples,
      bitDepth,
      rgb: bitDepth === 8 && colour >= 3 && (m.pages ?? 1) === 1,
    };
  } catch (err) {
    throw new SlideFormatError(`${file} is not a readable image (${(err as Error).message.split('\n')[0]})`);
  }
}

/**
 * Channel `index` (0-based) of a file: pages are channels when the file has several pages of one
 * sample, samples otherwise. Index 0 of a one-channel file is the file itself.
 */
export async function readChannel(file: string, index = 0): Promise<ChannelImage> {
  const layout = await fileLayout(file);
  const multiPage = layout.pages > 1 && layout.samples === 1;
  const channels = multiPage ? layout.pages : layout.samples;
  if (!Number.isInteger(index) || index < 0 || index >= channels) {
    throw new ConfigError(`--channel ${index + 1}: ${file} has ${channels} channel(s)`);
  }
  const sixteen = layout.bitDepth === 16;
  try {
    const { data, info } = await sharp(file, { page: multiPage ? index : 0, limitInputPixels: 1 << 28 })
      // sharp types bands 0–3 only; libvips takes any band index.
      .extractChannel((multiPage ? 0 : index) as 0 | 1 | 2 | 3)
      .toColourspace(sixteen ? 'grey16' : 'b-w')
      .raw({ depth: sixteen ? 'ushort' : 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const n = info.width * info.height;
    const out = new Float32Array(n);
    if (sixteen) {
      const v = new Uint16Array(data.buffer, data.byteOffset, n);
      for (let i = 0; i < n; i++) out[i] = v[i] / 65535;
    } else {
      for (let i = 0; i < n; i++) out[i] = data[i] / 255;
    }
    return { data: out, width: info.width, height: info.height, bitDepth: layout.bitDepth, channels };
  } catch (err) {
    throw new SlideFormatError(`${file} is not a readable image (${(err as Error).message.split('\n')[0]})`);
  }
}
