/**
 * A simple tissue mask for FCN inference, used until pipeline/tissue/ lands: a pixel of the slide's
 * thumbnail is tissue when it is coloured (max − min channel above a threshold) and not black
 * (scanner borders). An integral image answers "what fraction of this level-0 rectangle is tissue".
 */
import type { Slide } from '../slide/types.ts';

export interface TissueMask {
  width: number;
  height: number;
  /** Level-0 pixels per mask pixel (x and y). */
  scaleX: number;
  scaleY: number;
  /** (width + 1) × (height + 1) summed-area table of the 0/1 mask. */
  integral: Uint32Array;
}

const MIN_SATURATION = 20; // of 255: H&E tissue is well above; white glass and grey dust are below
const MIN_VALUE = 40; // darker than this is a black border or pen, not tissue

export function maskFromRgb(
  rgb: Uint8Array,
  channels: number,
  width: number,
  height: number,
  scaleX: number,
  scaleY: number,
): TissueMask {
  const integral = new Uint32Array((width + 1) * (height + 1));
  for (let y = 0; y < height; y++) {
    let rowSum = 0;
    for (let x = 0; x < width; x++) {
      const p = (y * width + x) * channels;
      const r = rgb[p];
      const g = rgb[p + 1];
      const b = rgb[p + 2];
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      if (max - min > MIN_SATURATION && max > MIN_VALUE) rowSum++;
      integral[(y + 1) * (width + 1) + x + 1] = integral[y * (width + 1) + x + 1] + rowSum;
    }
  }
  return { width, height, scaleX, scaleY, integral };
}

/** Tissue mask from the slide's thumbnail (longest side `maxSize` pixels). */
export async function simpleTissueMask(slide: Slide, maxSize = 1024): Promise<TissueMask> {
  const thumb = await slide.thumbnail(maxSize);
  return maskFromRgb(
    thumb.data,
    thumb.channels,
    thumb.width,
    thumb.height,
    slide.width / thumb.width,
    slide.height / thumb.height,
  );
}

/** Fraction (0..1) of mask pixels that are tissue within a level-0 rectangle (at least one mask pixel). */
export function tissueFraction(m: TissueMask, x: number, y: number, width: number, height: number): number {
  const clamp = (v: number, hi: number) => Math.max(0, Math.min(hi, v));
  let x0 = clamp(Math.floor(x / m.scaleX), m.width);
  let y0 = clamp(Math.floor(y / m.scaleY), m.height);
  let x1 = clamp(Math.ceil((x + width) / m.scaleX), m.width);
  let y1 = clamp(Math.ceil((y + height) / m.scaleY), m.height);
  if (x1 <= x0) [x0, x1] = [Math.min(x0, m.width - 1), Math.min(x0, m.width - 1) + 1];
  if (y1 <= y0) [y0, y1] = [Math.min(y0, m.height - 1), Math.min(y0, m.height - 1) + 1];
  const W = m.width + 1;
  const sum =
    m.integral[y1 * W + x1] - m.integral[y0 * W + x1] - m.integral[y1 * W + x0] + m.integral[y0 * W + x0];
  return sum / ((x1 - x0) * (y1 - y0));
}
