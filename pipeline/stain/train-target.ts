/**
 * Stain normalisation for a training set and for inference with a trained model: the target is either
 * given or pooled from the training slides' own estimates (mean Lab statistics; mean unit stain vectors,
 * median concentration percentiles and mean glass), and every slide is mapped to it.
 */
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import { detectTissue } from '../tissue/index.ts';
import type { TissueMask } from '../tissue/types.ts';
import { createTileNormaliser } from './estimate.ts';
import { percentile, unit } from './linalg.ts';
import { estimateSlideStain } from './slide.ts';
import type { StainEstimate, StainMethod, TileNormaliser, Vec3 } from './types.ts';

export interface StainSetup {
  method: StainMethod;
  /** Absent: pooled from the slides being normalised (training). */
  target?: StainEstimate;
}

const mean3 = (vs: Vec3[]): Vec3 =>
  [0, 1, 2].map((c) => vs.reduce((s, v) => s + v[c], 0) / vs.length) as Vec3;

/** One target from several slides' estimates of the same method. */
export function poolEstimates(estimates: readonly StainEstimate[]): StainEstimate {
  if (estimates.length === 0) throw new Error('no stain estimates to pool');
  const first = estimates[0];
  if (first.method === 'reinhard') {
    const ls = estimates.filter((e) => e.method === 'reinhard');
    return { method: 'reinhard', mean: mean3(ls.map((e) => e.mean)), std: mean3(ls.map((e) => e.std)) };
  }
  const ms = estimates.filter((e) => e.method !== 'reinhard');
  return {
    method: first.method,
    h: unit(mean3(ms.map((e) => e.h))),
    e: unit(mean3(ms.map((e) => e.e))),
    maxConc: [
      percentile(
        ms.map((e) => e.maxConc[0]),
        50,
      ),
      percentile(
        ms.map((e) => e.maxConc[1]),
        50,
      ),
    ],
    background: mean3(ms.map((e) => e.background)),
  };
}

/** The normaliser that maps one slide to `target` (its own stain estimated from its tissue). */
export async function normaliserForSlide(
  slide: Slide,
  stain: { method: StainMethod; target: StainEstimate },
  mask?: TissueMask,
): Promise<{ normaliser: TileNormaliser; source: StainEstimate }> {
  const { estimate } = await estimateSlideStain(slide, stain.method, { mask });
  return { normaliser: createTileNormaliser(estimate, stain.target), source: estimate };
}

/**
 * For a training set: the target (given, or pooled over `paths` in a first pass that also fills `masks`
 * so the slides' tissue is found once) and a per-slide normaliser.
 */
export async function slideStainNormaliser(
  paths: readonly string[],
  setup: StainSetup,
  masks: Map<number, TissueMask>,
): Promise<{
  method: StainMethod;
  target: StainEstimate;
  forSlide(index: number, slide: Slide, mask: TissueMask): Promise<TileNormaliser>;
}> {
  const own = new Map<number, StainEstimate>();
  let target = setup.target;
  if (!target) {
    for (let i = 0; i < paths.length; i++) {
      const slide = await openSlide(paths[i]);
      try {
        const mask = await detectTissue(slide);
        masks.set(i, mask);
        own.set(i, (await estimateSlideStain(slide, setup.method, { mask })).estimate);
      } finally {
        await slide.close();
      }
    }
    target = poolEstimates([...own.values()]);
  }
  const fixed = target;
  return {
    method: setup.method,
    target: fixed,
    async forSlide(index, slide, mask) {
      const mine = own.get(index) ?? (await estimateSlideStain(slide, setup.method, { mask })).estimate;
      return createTileNormaliser(mine, fixed);
    },
  };
}
