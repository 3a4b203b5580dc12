/** Images of a tissue mask for people: the mask itself (0/255) and the slide with tissue tinted and outlined. */
import sharp from 'sharp';
import type { RGBImage } from '../slide/types.ts';
import { saveImageFile } from '../slide/write-image.ts';
import type { TissueMask } from './types.ts';

export async function writeMaskPng(mask: TissueMask, path: string): Promise<void> {
  const grey = new Uint8Array(mask.data.length);
  for (let i = 0; i < grey.length; i++) grey[i] = mask.data[i] ? 255 : 0;
  await saveImageFile(
    sharp(grey, { raw: { width: mask.width, height: mask.height, channels: 1 } }).png(),
    path,
  );
}

/** The slide image (same size as the mask) with tissue tinted green and its boundary drawn dark green. */
export function overlayImage(img: RGBImage, mask: TissueMask): RGBImage {
  const { width, height } = mask;
  const out = new Uint8Array(width * height * 3);
  const at = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && mask.data[y * width + x] === 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      const p = i * img.channels;
      let r = img.data[p];
      let g = img.data[p + 1];
      let b = img.data[p + 2];
      if (mask.data[i]) {
        const edge = !at(x - 1, y) || !at(x + 1, y) || !at(x, y - 1) || !at(x, y + 1);
        if (edge) [r, g, b] = [0, 110, 0];
        else [r, g, b] = [Math.round(r * 0.7), Math.round(g * 0.7 + 255 * 0.3), Math.round(b * 0.7)];
      }
      out[i * 3] = r;
      out[i * 3 + 1] = g;
      out[i * 3 + 2] = b;
    }
  }
  return { data: out, width, height, channels: 3 };
}

export async function writeOverlayPng(img: RGBImage, mask: TissueMask, path: string): Promise<void> {
  const o = overlayImage(img, mask);
  await saveImageFile(sharp(o.data, { raw: { width: o.width, height: o.height, channels: 3 } }).png(), path);
}
