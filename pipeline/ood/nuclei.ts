/**
 * Nucleus size at the slide's stated µm/px: the watershed counter (pipeline/counting) on a few seeded
 * tissue regions read at 0.25 µm/px, its cells' median area as an equivalent diameter in µm. Settings
 * are the brightfield preset's with a small minimum area, so nuclei several times smaller than expected
 * (a wrong µm/px) are still found and measured rather than dropped.
 */
import { countWatershed } from '../counting/watershed-counter.ts';
import type { Slide } from '../slide/types.ts';
import { percentile } from '../stain/linalg.ts';
import type { TissueMask } from '../tissue/types.ts';
import { createRng } from '../util/rng.ts';

export const NUCLEUS_MPP = 0.25;
const REGION = 192;

export interface NucleusSize {
  /** Median equivalent diameter of the detected nuclei, µm at the stated µm/px. */
  diameterUm: number;
  nuclei: number;
  /**
   * Focus: mean squared grey-level gradient over the grey-level variance of the regions (1/px², so it is
   * independent of stain strength); scanner blur lowers it, structures drawn smaller raise it.
   */
  sharpness: number;
}

function sharpnessOf(img: {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}): [number, number] {
  const { data, width: w, height: h, channels: ch } = img;
  const g = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++)
    g[i] = 0.299 * data[i * ch] + 0.587 * data[i * ch + 1] + 0.114 * data[i * ch + 2];
  let mean = 0;
  for (const v of g) mean += v;
  mean /= g.length;
  let variance = 0;
  for (const v of g) variance += (v - mean) ** 2;
  let grad = 0;
  for (let y = 0; y < h - 1; y++)
    for (let x = 0; x < w - 1; x++) {
      const k = y * w + x;
      grad += (g[k + 1] - g[k]) ** 2 + (g[k + w] - g[k]) ** 2;
    }
  return [grad / ((w - 1) * (h - 1)), variance / g.length];
}

export async function measureNuclei(
  slide: Slide,
  mask: TissueMask,
  o: { regions?: number; seed?: number } = {},
): Promise<NucleusSize | undefined> {
  if (!slide.mpp) return undefined;
  const tissue: number[] = [];
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) tissue.push(i);
  if (!tissue.length) return undefined;
  const rng = createRng(o.seed ?? 11);
  const areas: number[] = [];
  let gradSum = 0;
  let varSum = 0;
  const span = (REGION * NUCLEUS_MPP) / slide.mpp.x; // level-0 px
  for (let k = 0; k < (o.regions ?? 6); k++) {
    const i = tissue[rng.int(tissue.length)];
    const cx = ((i % mask.width) + 0.5) * mask.downsample;
    const cy = (Math.floor(i / mask.width) + 0.5) * mask.downsample;
    const img = await slide.readAt({
      x: Math.max(0, Math.round(cx - span / 2)),
      y: Math.max(0, Math.round(cy - span / 2)),
      width: REGION,
      height: REGION,
      mpp: NUCLEUS_MPP,
    });
    const [gr, va] = sharpnessOf(img);
    gradSum += gr;
    varSum += va;
    const seg = countWatershed(img, { sigma: 1, minDistance: 2, h: 1, minArea: 3 }, 'brightfield');
    for (const c of seg.cells) if (c.area !== undefined) areas.push(c.area);
  }
  if (areas.length < 10) return undefined;
  const medianArea = percentile(areas, 50) * NUCLEUS_MPP * NUCLEUS_MPP;
  return {
    diameterUm: 2 * Math.sqrt(medianArea / Math.PI),
    nuclei: areas.length,
    sharpness: varSum > 0 ? gradSum / varSum : 0,
  };
}
