/**
 * A coarse tissue mask for choosing training patches: the slide read at a low resolution, saturation
 * thresholded by Otsu's method (tissue is stained, glass is grey-white). pipeline/tissue/ was not there when
 * this was written; this is the minimal version training needs.
 */
import type { Slide } from '../slide/types.ts';

export interface TissueMask {
  mask: Uint8Array;
  width: number;
  height: number;
  /** µm per mask pixel. */
  umPerPx: number;
}

export function otsuThreshold(values: Uint8Array): number {
  const hist = new Float64Array(256);
  for (const v of values) hist[v]++;
  const total = values.length;
  let sumAll = 0;
  for (let i = 0; i < 256; i++) sumAll += i * hist[i];
  let sumB = 0;
  let wB = 0;
  let best = 0;
  let threshold = 0;
  for (let t = 0; t < 256; t++) {
    wB += hist[t];
    if (wB === 0) continue;
    const wF = total - wB;
    if (wF === 0) break;
    sumB += t * hist[t];
    const mB = sumB / wB;
    const mF = (sumAll - sumB) / wF;
    const between = wB * wF * (mB - mF) ** 2;
    if (between > best) {
      best = between;
      threshold = t;
    }
  }
  return threshold;
}

export async function tissueMask(slide: Slide, umPerPx = 8): Promise<TissueMask> {
  const mpp = slide.mpp!.x;
  const width = Math.max(1, Math.round((slide.width * mpp) / umPerPx));
  const height = Math.max(1, Math.round((slide.height * mpp) / umPerPx));
  const img = await slide.readAt({ x: 0, y: 0, width, height, mpp: umPerPx });
  const sat = new Uint8Array(width * height);
  for (let k = 0; k < width * height; k++) {
    const r = img.data[k * img.channels];
    const g = img.data[k * img.channels + 1];
    const b = img.data[k * img.channels + 2];
    const max = Math.max(r, g, b);
    const min = Math.min(r, g, b);
    sat[k] = max === 0 ? 0 : Math.round((255 * (max - min)) / max);
  }
  // Never call faint noise tissue on an all-glass slide: the threshold has a floor.
  const t = Math.max(otsuThreshold(sat), 20);
  const mask = new Uint8Array(width * height);
  for (let k = 0; k < mask.length; k++) mask[k] = sat[k] > t ? 1 : 0;
  return { mask, width, height, umPerPx };
}

/** Fraction of tissue under a level-0 rectangle. */
export function tissueFraction(
  m: TissueMask,
  mpp: number,
  x: number,
  y: number,
  w: number,
  h: number,
): number {
  const s = mpp / m.umPerPx;
  const i0 = Math.max(0, Math.floor(x * s));
  const j0 = Math.max(0, Math.floor(y * s));
  const i1 = Math.min(m.width, Math.ceil((x + w) * s));
  const j1 = Math.min(m.height, Math.ceil((y + h) * s));
  let n = 0;
  let t = 0;
  for (let j = j0; j < j1; j++)
    for (let i = i0; i < i1; i++) {
      n++;
      t += m.mask[j * m.width + i];
    }
  return n ? t / n : 0;
}
