/**
 * Photometric training augmentations on RGB patches, in place, drawn from a seeded RNG in a fixed order:
 * brightness and contrast, Gaussian blur (scanner focus) and JPEG re-compression at a random quality
 * (8×8 DCT quantisation of Y, Cb, Cr with the IJG tables scaled to the quality, as libjpeg does; no
 * chroma subsampling). The H&E jitter itself (Tellez et al. 2018) is in pipeline/train/augment.ts.
 */
import type { Rng } from '../util/rng.ts';

export interface PhotometricOptions {
  /** Brightness shift spread, share of 255 (0 = off): v += U(−b, b)·255. */
  brightness: number;
  /** Contrast spread (0 = off): v = mean + (v − mean)·U(1−c, 1+c). */
  contrast: number;
  /** Probability of a blur, and its largest σ in pixels. */
  blurP: number;
  blurSigma: number;
  /** Probability of JPEG re-compression, and its quality range. */
  jpegP: number;
  jpegQuality: [number, number];
}

export const NO_PHOTOMETRIC: PhotometricOptions = {
  brightness: 0,
  contrast: 0,
  blurP: 0,
  blurSigma: 0,
  jpegP: 0,
  jpegQuality: [50, 95],
};

/** What `--augment` turns on beyond the default flips and light H&E jitter. */
export const STRONG_PHOTOMETRIC: PhotometricOptions = {
  brightness: 0.06,
  contrast: 0.15,
  blurP: 0.3,
  blurSigma: 1.2,
  jpegP: 0.5,
  jpegQuality: [45, 95],
};

export interface PhotometricDraw {
  brightness: number;
  contrast: number;
  blurSigma: number;
  jpegQuality: number;
}

/** Draws one patch's parameters (fixed order of draws, whether or not an option is on). */
export function drawPhotometric(rng: Rng, o: PhotometricOptions): PhotometricDraw {
  const u = () => rng.next() * 2 - 1;
  const brightness = u() * o.brightness;
  const contrast = 1 + u() * o.contrast;
  const blurOn = rng.next() < o.blurP;
  const blurAmount = rng.next();
  const jpegOn = rng.next() < o.jpegP;
  const jpegAmount = rng.next();
  const blur = blurOn ? blurAmount * o.blurSigma : 0;
  const jpeg = jpegOn ? Math.round(o.jpegQuality[0] + jpegAmount * (o.jpegQuality[1] - o.jpegQuality[0])) : 0;
  return { brightness, contrast, blurSigma: blur, jpegQuality: jpeg };
}

export function isPhotometricOn(o: PhotometricOptions): boolean {
  return o.brightness > 0 || o.contrast > 0 || (o.blurP > 0 && o.blurSigma > 0) || o.jpegP > 0;
}

/** Applies a draw to an RGB patch (width × height × 3) in place. */
export function applyPhotometric(px: Uint8Array, width: number, height: number, d: PhotometricDraw): void {
  if (d.brightness !== 0 || d.contrast !== 1) {
    let mean = 0;
    for (let i = 0; i < px.length; i++) mean += px[i];
    mean /= px.length;
    const add = d.brightness * 255;
    for (let i = 0; i < px.length; i++) {
      const v = mean + (px[i] - mean) * d.contrast + add;
      px[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
    }
  }
  if (d.blurSigma > 0.2) gaussianBlur(px, width, height, d.blurSigma);
  if (d.jpegQuality > 0) jpegRoundTrip(px, width, height, d.jpegQuality);
}

/** Separable Gaussian blur of an RGB image in place (edges clamped). */
export function gaussianBlur(px: Uint8Array, width: number, height: number, sigma: number): void {
  const r = Math.max(1, Math.ceil(3 * sigma));
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const tmp = new Float32Array(px.length);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let j = -r; j <= r; j++) {
          const xx = x + j < 0 ? 0 : x + j >= width ? width - 1 : x + j;
          s += k[j + r] * px[(y * width + xx) * 3 + c];
        }
        tmp[(y * width + x) * 3 + c] = s;
      }
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let j = -r; j <= r; j++) {
          const yy = y + j < 0 ? 0 : y + j >= height ? height - 1 : y + j;
          s += k[j + r] * tmp[(yy * width + x) * 3 + c];
        }
        px[(y * width + x) * 3 + c] = Math.round(s);
      }
}

// IJG (libjpeg) standard quantisation tables, natural order.
const LUMA = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array<number>(32).fill(99),
];
const COS = Float64Array.from({ length: 64 }, (_, i) => {
  const x = i >> 3;
  const u = i & 7;
  return (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
});

/** libjpeg's quality scaling of a base table. */
function scaledTable(base: readonly number[], quality: number): Float64Array {
  const q = Math.max(1, Math.min(100, quality));
  const s = q < 50 ? 5000 / q : 200 - 2 * q;
  return Float64Array.from(base, (b) => Math.max(1, Math.min(255, Math.floor((b * s + 50) / 100))));
}

/** JPEG encode–decode loss at `quality`: YCbCr, 8×8 DCT, quantise, dequantise, inverse DCT, in place. */
export function jpegRoundTrip(px: Uint8Array, width: number, height: number, quality: number): void {
  const tables = [scaledTable(LUMA, quality), scaledTable(CHROMA, quality), scaledTable(CHROMA, quality)];
  const plane = [0, 1, 2].map(() => new Float64Array(width * height));
  for (let i = 0; i < width * height; i++) {
    const r = px[i * 3];
    const g = px[i * 3 + 1];
    const b = px[i * 3 + 2];
    plane[0][i] = 0.299 * r + 0.587 * g + 0.114 * b - 128;
    plane[1][i] = -0.168736 * r - 0.331264 * g + 0.5 * b;
    plane[2][i] = 0.5 * r - 0.418688 * g - 0.081312 * b;
  }
  const block = new Float64Array(64);
  const coef = new Float64Array(64);
  for (let c = 0; c < 3; c++) {
    const p = plane[c];
    const q = tables[c];
    for (let by = 0; by < height; by += 8)
      for (let bx = 0; bx < width; bx += 8) {
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++)
            block[y * 8 + x] = p[Math.min(height - 1, by + y) * width + Math.min(width - 1, bx + x)];
        for (let v = 0; v < 8; v++)
          for (let u = 0; u < 8; u++) {
            let s = 0;
            for (let y = 0; y < 8; y++)
              for (let x = 0; x < 8; x++) s += block[y * 8 + x] * COS[x * 8 + u] * COS[y * 8 + v];
            const k = v * 8 + u;
            coef[k] = Math.round(s / q[k]) * q[k];
          }
        for (let y = 0; y < 8 && by + y < height; y++)
          for (let x = 0; x < 8 && bx + x < width; x++) {
            let s = 0;
            for (let v = 0; v < 8; v++)
              for (let u = 0; u < 8; u++) s += coef[v * 8 + u] * COS[x * 8 + u] * COS[y * 8 + v];
            p[(by + y) * width + bx + x] = s;
          }
      }
  }
  const clamp = (v: number) => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
  for (let i = 0; i < width * height; i++) {
    const Y = plane[0][i] + 128;
    const cb = plane[1][i];
    const cr = plane[2][i];
    px[i * 3] = clamp(Y + 1.402 * cr);
    px[i * 3 + 1] = clamp(Y - 0.344136 * cb - 0.714136 * cr);
    px[i * 3 + 2] = clamp(Y + 1.772 * cb);
  }
}
