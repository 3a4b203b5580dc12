/**
 * Channel choice: the one grey image the watershed counter works on, with nuclei bright.
 * Fluorescence: a chosen channel or the brightest one. H&E / IHC: haematoxylin optical density from
 * colour deconvolution (Ruifrok & Johnston 2001, "Quantification of histochemical staining by color
 * deconvolution"), using their H, E and DAB stain vectors.
 */
import { ConfigError } from '../errors.ts';
import type { GrayImage, PixelImage } from './types.ts';

export type ChannelChoice = 'auto' | 'brightest' | 'haematoxylin' | 'red' | 'green' | 'blue' | 'grey';

const CHANNEL_CHOICES: readonly ChannelChoice[] = [
  'auto',
  'brightest',
  'haematoxylin',
  'red',
  'green',
  'blue',
  'grey',
];

/** Rows: optical-density RGB vectors of haematoxylin, eosin, DAB (Ruifrok & Johnston's measured values). */
const STAIN_OD: readonly (readonly [number, number, number])[] = [
  [0.65, 0.7, 0.29],
  [0.07, 0.99, 0.11],
  [0.27, 0.57, 0.78],
];

function invert3(m: readonly (readonly number[])[]): number[][] {
  const [a, b, c] = m[0];
  const [d, e, f] = m[1];
  const [g, h, i] = m[2];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

/** Row vector OD · inverse(stains) gives stain amounts; column 0 is haematoxylin. */
const STAIN_FROM_OD = invert3(STAIN_OD);

/**
 * Haematoxylin amount per pixel (≥ 0). Optical density is −log10 of transmitted light,
 * with intensities floored at 1/255 so black pixels stay finite.
 */
export function haematoxylin(img: PixelImage): GrayImage {
  if (img.channels < 3) throw new ConfigError('haematoxylin needs an RGB image');
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = -Math.log10(Math.max(v, 1) / 255);
  const h0 = STAIN_FROM_OD[0][0];
  const h1 = STAIN_FROM_OD[1][0];
  const h2 = STAIN_FROM_OD[2][0];
  const c = img.channels;
  const d = img.data;
  for (let p = 0, q = 0; p < n; p++, q += c) {
    const v = lut[d[q]] * h0 + lut[d[q + 1]] * h1 + lut[d[q + 2]] * h2;
    out[p] = v > 0 ? v : 0;
  }
  return { data: out, width: img.width, height: img.height };
}

function channelOf(img: PixelImage, k: number): GrayImage {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const c = img.channels;
  for (let p = 0, q = k; p < n; p++, q += c) out[p] = img.data[q] / 255;
  return { data: out, width: img.width, height: img.height };
}

function grey(img: PixelImage): GrayImage {
  if (img.channels < 3) return channelOf(img, 0);
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const c = img.channels;
  const d = img.data;
  for (let p = 0, q = 0; p < n; p++, q += c)
    out[p] = (0.299 * d[q] + 0.587 * d[q + 1] + 0.114 * d[q + 2]) / 255;
  return { data: out, width: img.width, height: img.height };
}

function channelMeans(img: PixelImage): number[] {
  const c = Math.min(img.channels, 3);
  const sums = new Float64Array(c);
  const n = img.width * img.height;
  for (let p = 0, q = 0; p < n; p++, q += img.channels)
    for (let k = 0; k < c; k++) sums[k] += img.data[q + k];
  return Array.from(sums, (s) => s / n / 255);
}

/**
 * Fluorescence images are mostly dark background; brightfield (H&E, IHC) mostly bright.
 * A mean over all channels below 0.35 is taken as fluorescence.
 */
export function looksFluorescent(img: PixelImage): boolean {
  const means = channelMeans(img);
  return means.reduce((a, b) => a + b, 0) / means.length < 0.35;
}

export function selectChannel(img: PixelImage, choice: ChannelChoice = 'auto'): GrayImage {
  switch (choice) {
    case 'auto':
      if (img.channels < 3) return channelOf(img, 0);
      return looksFluorescent(img) ? selectChannel(img, 'brightest') : haematoxylin(img);
    case 'brightest': {
      if (img.channels < 3) return channelOf(img, 0);
      const means = channelMeans(img);
      return channelOf(img, means.indexOf(Math.max(...means)));
    }
    case 'haematoxylin':
      return haematoxylin(img);
    case 'red':
    case 'green':
    case 'blue': {
      const k = choice === 'red' ? 0 : choice === 'green' ? 1 : 2;
      if (k >= img.channels)
        throw new ConfigError(`--channel ${choice}: the image has ${img.channels} channel(s)`);
      return channelOf(img, k);
    }
    case 'grey':
      return grey(img);
    default:
      throw new ConfigError(`--channel must be one of ${CHANNEL_CHOICES.join(', ')}, got '${choice}'`);
  }
}
