/** sRGB (8-bit, D65) ↔ CIE L*a*b*, for Reinhard normalisation. */
import type { Vec3 } from './types.ts';

const LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});
const WHITE: Vec3 = [0.95047, 1, 1.08883];
const EPS = 216 / 24389;
const KAPPA = 24389 / 27;

const f = (t: number) => (t > EPS ? Math.cbrt(t) : (KAPPA * t + 16) / 116);
const finv = (t: number) => (t * t * t > EPS ? t * t * t : (116 * t - 16) / KAPPA);

export function rgbToLab(r: number, g: number, b: number, out: Float64Array | number[], o = 0): void {
  const R = LINEAR[r];
  const G = LINEAR[g];
  const B = LINEAR[b];
  const x = f((0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / WHITE[0]);
  const y = f(0.2126729 * R + 0.7151522 * G + 0.072175 * B);
  const z = f((0.0193339 * R + 0.119192 * G + 0.9503041 * B) / WHITE[2]);
  out[o] = 116 * y - 16;
  out[o + 1] = 500 * (x - y);
  out[o + 2] = 200 * (y - z);
}

const gamma = (c: number) => {
  const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
  const u = Math.round(v * 255);
  return u < 0 ? 0 : u > 255 ? 255 : u;
};

/** Writes the 8-bit sRGB of a Lab colour into `out` at `o` (out-of-gamut colours clipped). */
export function labToRgb(L: number, a: number, b: number, out: Uint8Array, o: number): void {
  const fy = (L + 16) / 116;
  const X = finv(fy + a / 500) * WHITE[0];
  const Y = L > KAPPA * EPS ? fy * fy * fy : L / KAPPA;
  const Z = finv(fy - b / 200) * WHITE[2];
  out[o] = gamma(3.2404542 * X - 1.5371385 * Y - 0.4985314 * Z);
  out[o + 1] = gamma(-0.969266 * X + 1.8760108 * Y + 0.041556 * Z);
  out[o + 2] = gamma(0.0556434 * X - 0.2040259 * Y + 1.0572252 * Z);
}
