/**
 * The classic counting pipeline: channel → smoothing → threshold → distance transform → markers →
 * marker-controlled watershed → size filter. Each step is its own module; this file only wires them.
 */
import { ConfigError } from '../errors.ts';
import { type ChannelChoice, looksFluorescent, selectChannel } from './channel.ts';
import { distanceTransform } from './distance.ts';
import { findMarkers } from './markers.ts';
import { measureObjects } from './objects.ts';
import { gaussianBlur } from './smooth.ts';
import { above, adaptiveMask, isBlank, otsuThreshold } from './threshold.ts';
import type { GrayImage, PixelImage, SegmentationResult } from './types.ts';
import { watershed } from './watershed.ts';

export interface WatershedOptions {
  channel: ChannelChoice;
  /** Gaussian σ in pixels before thresholding (0 = none). */
  sigma: number;
  threshold: 'otsu' | 'adaptive';
  /** Multiplies the Otsu threshold (1 = plain Otsu). */
  thresholdScale: number;
  /** Adaptive threshold: neighbourhood radius and offset above the local mean (in channel units). */
  adaptiveRadius: number;
  adaptiveOffset: number;
  /** Surface whose maxima seed the basins: the distance transform (classic) or the smoothed intensity. */
  markersOn: 'distance' | 'intensity';
  /** Minimum distance between markers in pixels. */
  minDistance: number;
  /** h-value for h-maxima of the marker surface, in its units (pixels for distance). */
  h: number;
  minArea: number;
  maxArea: number;
}

/** Parameters shared by the presets; the presets below override what differs. */
export const DEFAULT_WATERSHED: WatershedOptions = {
  channel: 'auto',
  sigma: 2,
  threshold: 'otsu',
  thresholdScale: 1,
  adaptiveRadius: 25,
  adaptiveOffset: 0.02,
  markersOn: 'distance',
  minDistance: 6,
  h: 2,
  minArea: 40,
  maxArea: Number.POSITIVE_INFINITY,
};

/**
 * Presets chosen by sweeps on the real data (see bench/count.md):
 * - fluorescence: VGG cells (256² synthetic fluorescence, nuclei ≈ 10 px across, heavy overlap). Blurred
 *   overlapping nuclei have no distance-transform saddles, so basins are seeded from intensity maxima,
 *   and a threshold below Otsu keeps dim out-of-focus cells.
 * - brightfield: H&E haematoxylin at 40× (MoNuSeg, nuclei ≈ 15–25 px across): classic distance-transform
 *   markers with h = 2 px.
 */
export const WATERSHED_PRESETS = {
  fluorescence: {
    channel: 'auto',
    sigma: 1.5,
    thresholdScale: 0.6,
    markersOn: 'intensity',
    minDistance: 3,
    h: 0,
    minArea: 10,
  },
  brightfield: {
    channel: 'auto',
    sigma: 2,
    thresholdScale: 1,
    markersOn: 'distance',
    minDistance: 6,
    h: 2,
    minArea: 40,
  },
} satisfies Record<string, Partial<WatershedOptions>>;

/** µm/px the brightfield preset was tuned at (MoNuSeg, 40×). */
export const BRIGHTFIELD_MPP = 0.25;

/**
 * Spatial parameters of a preset rescaled for another resolution: lengths by `factor` (= tuned µm/px ÷
 * image µm/px), areas by factor². A 20× slide (0.5 µm/px) gets half the lengths of the 40× preset.
 */
export function scaleSpatial(o: Partial<WatershedOptions>, factor: number): Partial<WatershedOptions> {
  const out = { ...o };
  if (out.sigma !== undefined) out.sigma *= factor;
  if (out.minDistance !== undefined) out.minDistance = Math.max(1, out.minDistance * factor);
  if (out.h !== undefined) out.h *= factor;
  if (out.minArea !== undefined) out.minArea *= factor * factor;
  if (out.adaptiveRadius !== undefined)
    out.adaptiveRadius = Math.max(1, Math.round(out.adaptiveRadius * factor));
  return out;
}

export type WatershedPreset = keyof typeof WATERSHED_PRESETS | 'auto';

/** 'auto' picks the fluorescence preset for dark-background images and brightfield otherwise. */
export function presetFor(img: PixelImage, preset: WatershedPreset): Partial<WatershedOptions> {
  if (preset === 'auto')
    return looksFluorescent(img) ? WATERSHED_PRESETS.fluorescence : WATERSHED_PRESETS.brightfield;
  const p = WATERSHED_PRESETS[preset];
  if (!p) throw new ConfigError(`--preset must be auto, fluorescence or brightfield, got '${preset}'`);
  return p;
}

export function validateWatershedOptions(o: WatershedOptions): void {
  const positive: (keyof WatershedOptions)[] = ['minDistance', 'adaptiveRadius', 'thresholdScale'];
  for (const k of positive) {
    const v = o[k] as number;
    if (!(v > 0) || !Number.isFinite(v)) throw new ConfigError(`watershed option ${k} must be > 0, got ${v}`);
  }
  if (!(o.sigma >= 0)) throw new ConfigError(`watershed option sigma must be ≥ 0, got ${o.sigma}`);
  if (!(o.h >= 0)) throw new ConfigError(`watershed option h must be ≥ 0, got ${o.h}`);
  if (!(o.minArea >= 0) || !(o.maxArea >= o.minArea)) {
    throw new ConfigError(
      `watershed size filter needs 0 ≤ minArea ≤ maxArea, got ${o.minArea}..${o.maxArea}`,
    );
  }
  if (o.threshold !== 'otsu' && o.threshold !== 'adaptive') {
    throw new ConfigError(`threshold must be otsu or adaptive, got '${o.threshold}'`);
  }
  if (o.markersOn !== 'distance' && o.markersOn !== 'intensity') {
    throw new ConfigError(`markersOn must be distance or intensity, got '${o.markersOn}'`);
  }
}

/** Foreground mask of a smoothed channel. */
export function foreground(raw: GrayImage, smoothed: GrayImage, o: WatershedOptions): Uint8Array {
  if (isBlank(raw, smoothed)) return new Uint8Array(smoothed.data.length);
  if (o.threshold === 'adaptive') {
    return adaptiveMask(smoothed, o.adaptiveRadius, o.adaptiveOffset, otsuThreshold(smoothed) * 0.5);
  }
  return above(smoothed, otsuThreshold(smoothed) * o.thresholdScale);
}

/** Counts from an already chosen channel (nuclei bright). */
export function segmentChannel(gray: GrayImage, options: Partial<WatershedOptions> = {}): SegmentationResult {
  const o = { ...DEFAULT_WATERSHED, ...options };
  validateWatershedOptions(o);
  const { width: w, height: h } = gray;
  const smoothed = gaussianBlur(gray, o.sigma);
  const mask = foreground(gray, smoothed, o);
  const dist = distanceTransform(mask, w, h);
  const markerSurface = o.markersOn === 'distance' ? dist : smoothed;
  const markers = findMarkers(markerSurface, { minDistance: o.minDistance, h: o.h, mask });
  // Flood the inverted marker surface so basins grow from its maxima.
  const flood = new Float32Array(w * h);
  for (let i = 0; i < flood.length; i++) flood[i] = -markerSurface.data[i];
  const raw = watershed(flood, w, h, markers, mask);
  const { labels, cells } = measureObjects(raw, w, { minArea: o.minArea, maxArea: o.maxArea });
  const meanArea = cells.length ? cells.reduce((s, c) => s + (c.area ?? 0), 0) / cells.length : undefined;
  return { labels, cells, count: cells.length, meanArea, width: w, height: h };
}

/**
 * Counts nuclei in an RGB image. Options are layered: shared defaults, then the preset
 * ('auto' by default: chosen from the image), then explicit overrides.
 */
export function countWatershed(
  img: PixelImage,
  options: Partial<WatershedOptions> = {},
  preset: WatershedPreset = 'auto',
): SegmentationResult {
  const o = { ...DEFAULT_WATERSHED, ...presetFor(img, preset), ...options };
  validateWatershedOptions(o);
  return segmentChannel(selectChannel(img, o.channel), o);
}
