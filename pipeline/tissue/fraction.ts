/**
 * Tissue fraction of any level-0 rectangle, exact for the mask: the integral of the piecewise-constant mask
 * is bilinear inside each mask pixel, so interpolating the summed-area table at fractional corners gives the
 * area-weighted count, in O(1) per rectangle.
 */
import type { TissueMask } from './types.ts';

export interface LevelRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

const tables = new WeakMap<TissueMask, Float64Array>();

function summedAreaTable(mask: TissueMask): Float64Array {
  let sat = tables.get(mask);
  if (sat) return sat;
  const { width, height, data } = mask;
  const w1 = width + 1;
  sat = new Float64Array(w1 * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += data[y * width + x];
      sat[(y + 1) * w1 + x + 1] = sat[y * w1 + x + 1] + row;
    }
  }
  tables.set(mask, sat);
  return sat;
}

/** Integral of the mask over [0, u) × [0, v) in mask-pixel units (u, v may be fractional). */
function integralAt(sat: Float64Array, width: number, height: number, u: number, v: number): number {
  const cu = Math.min(Math.max(u, 0), width);
  const cv = Math.min(Math.max(v, 0), height);
  const i = Math.min(Math.floor(cu), width - 1);
  const j = Math.min(Math.floor(cv), height - 1);
  const a = cu - i;
  const b = cv - j;
  const w1 = width + 1;
  const s00 = sat[j * w1 + i];
  const s10 = sat[j * w1 + i + 1];
  const s01 = sat[(j + 1) * w1 + i];
  const s11 = sat[(j + 1) * w1 + i + 1];
  return s00 * (1 - a) * (1 - b) + s10 * a * (1 - b) + s01 * (1 - a) * b + s11 * a * b;
}

/** Fraction (0–1) of a level-0 rectangle covered by tissue; area outside the mask counts as background. */
export function tissueFraction(mask: TissueMask, rect: LevelRect): number {
  if (rect.width <= 0 || rect.height <= 0) return 0;
  const sat = summedAreaTable(mask);
  const ds = mask.downsample;
  const u0 = rect.x / ds;
  const v0 = rect.y / ds;
  const u1 = (rect.x + rect.width) / ds;
  const v1 = (rect.y + rect.height) / ds;
  const { width: w, height: h } = mask;
  const covered =
    integralAt(sat, w, h, u1, v1) -
    integralAt(sat, w, h, u0, v1) -
    integralAt(sat, w, h, u1, v0) +
    integralAt(sat, w, h, u0, v0);
  const fraction = covered / ((u1 - u0) * (v1 - v0));
  return Math.min(1, Math.max(0, fraction));
}

/** Tissue area in level-0 pixels² (mask pixels × downsample²). */
export function tissueAreaPx(mask: TissueMask): number {
  let n = 0;
  for (let i = 0; i < mask.data.length; i++) n += mask.data[i];
  return n * mask.downsample * mask.downsample;
}
