/**
 * Tissue detection: the slide at a low resolution (~8 µm/px), saturation thresholded by Otsu's method,
 * closing to join fibres, opening to drop dust, small pieces removed, small holes filled, outlines traced.
 * Never touches level 0 of a large slide: the pixels come from the reader's thumbnail (best level + shrink).
 */
import sharp from 'sharp';
import { ConfigError } from '../errors.ts';
import type { RGBImage, Slide } from '../slide/types.ts';
import { scaleRing, traceRegions } from './contours.ts';
import { close, fillHoles, open, removeSmallRegions } from './morphology.ts';
import { otsuThreshold, saturation } from './threshold.ts';
import type { TissueMask, TissueOptions } from './types.ts';

export const TISSUE_DEFAULTS: Required<TissueOptions> = {
  targetMpp: 8,
  minSide: 1024,
  maxSide: 8192,
  assumeMpp: 0.5,
  minThreshold: 15,
  closeUm: 8,
  openUm: 4,
  minRegionUm2: 10_000,
  maxHoleUm2: 10_000,
};

function checkOptions(o: Required<TissueOptions>): void {
  for (const [name, v] of Object.entries(o)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new ConfigError(`tissue option ${name} must be a non-negative number, got ${String(v)}`);
    }
  }
  if (o.targetMpp <= 0 || o.assumeMpp <= 0)
    throw new ConfigError('tissue targetMpp and assumeMpp must be > 0');
  if (o.minSide < 16 || o.maxSide < o.minSide) {
    throw new ConfigError(
      `tissue minSide must be >= 16 and maxSide >= minSide (got ${o.minSide}, ${o.maxSide})`,
    );
  }
}

/** Level-0 pixels per mask pixel for a slide of this size and resolution. */
export function maskDownsample(longSide: number, levelZeroMpp: number, o: Required<TissueOptions>): number {
  let ds = o.targetMpp / levelZeroMpp;
  ds = Math.min(ds, longSide / o.minSide); // keep detail on small slides
  ds = Math.max(ds, longSide / o.maxSide); // keep memory bounded on huge ones
  return Math.max(1, ds);
}

/**
 * The mask from an RGB image that shows the whole slide, `downsample` level-0 px per image pixel.
 * `umPerPixel` sets the physical sizes of the clean-up steps; `downsampleY` (default `downsample`) scales
 * polygon y when the image's rows do not divide the slide height exactly.
 */
export function maskFromImage(
  img: RGBImage,
  downsample: number,
  umPerPixel: number,
  options: TissueOptions = {},
  downsampleY = downsample,
): Omit<TissueMask, 'umPerPixel'> {
  const o = { ...TISSUE_DEFAULTS, ...options };
  checkOptions(o);
  const { width, height } = img;
  const sat = saturation(img.data, img.channels, width * height);
  const threshold = Math.max(otsuThreshold(sat), o.minThreshold);
  let mask: Uint8Array = new Uint8Array(width * height);
  for (let i = 0; i < mask.length; i++) mask[i] = sat[i] > threshold ? 1 : 0;
  const px = (um: number) => Math.round(um / umPerPixel);
  const area = (um2: number) => um2 / (umPerPixel * umPerPixel);
  mask = close(mask, width, height, px(o.closeUm));
  mask = open(mask, width, height, px(o.openUm));
  mask = removeSmallRegions(mask, width, height, area(o.minRegionUm2));
  mask = fillHoles(mask, width, height, area(o.maxHoleUm2));
  const regions = traceRegions(mask, width, height).map((r) => ({
    outer: scaleRing(r.outer, downsample, downsampleY),
    holes: r.holes.map((h) => scaleRing(h, downsample, downsampleY)),
  }));
  const polygons = regions.flatMap((r) => [r.outer, ...r.holes]);
  return { width, height, data: mask, downsample, polygons, regions, threshold };
}

/** Reads the slide at mask resolution (exact mask size, so the downsample is the same on both axes). */
export async function readMaskImage(slide: Slide, maskWidth: number, maskHeight: number): Promise<RGBImage> {
  const thumb = await slide.thumbnail(Math.max(maskWidth, maskHeight));
  if (thumb.width === maskWidth && thumb.height === maskHeight) return thumb;
  const { data, info } = await sharp(thumb.data, {
    raw: { width: thumb.width, height: thumb.height, channels: thumb.channels },
  })
    .resize(maskWidth, maskHeight, { fit: 'fill', kernel: 'linear' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  return {
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
    width: info.width,
    height: info.height,
    channels: 3,
  };
}

export async function detectTissue(slide: Slide, options: TissueOptions = {}): Promise<TissueMask> {
  const o = { ...TISSUE_DEFAULTS, ...options };
  checkOptions(o);
  const mpp = slide.mpp ? (slide.mpp.x + slide.mpp.y) / 2 : o.assumeMpp;
  const ds = maskDownsample(Math.max(slide.width, slide.height), mpp, o);
  const maskWidth = Math.max(1, Math.round(slide.width / ds));
  const maskHeight = Math.max(1, Math.round(slide.height / ds));
  const img = await readMaskImage(slide, maskWidth, maskHeight);
  const downsample = slide.width / maskWidth;
  const mask = maskFromImage(img, downsample, mpp * downsample, o, slide.height / maskHeight);
  return { ...mask, umPerPixel: slide.mpp ? mpp * downsample : undefined };
}
