/**
 * A slide's stain, estimated from its tissue: the tissue mask (pipeline/tissue, ~8 µm/px) picks up to
 * `regions` seeded places in the tissue, each read as a 256² region at `mpp` (default 2 µm/px, where nuclei
 * are a few pixels wide and not yet averaged with stroma); the glass of a ≤2048 px thumbnail gives I₀.
 * Memory stays bounded whatever the slide's size (never level 0 of a large slide).
 */

import type { RGBImage, Slide } from '../slide/types.ts';
import { detectTissue } from '../tissue/index.ts';
import type { TissueMask } from '../tissue/types.ts';
import { createRng } from '../util/rng.ts';
import { estimateBackground, estimateStain } from './estimate.ts';
import type { StainEstimate, StainMethod, Vec3 } from './types.ts';

export interface SlideStainOptions {
  /** Long side of the thumbnail the glass level is read from (default 2048). */
  maxSide?: number;
  /** Resolution of the sampled regions, µm/px (default 2); slides without µm/px use level-0 px × 8. */
  mpp?: number;
  /** Number of 256² tissue regions (default 24). */
  regions?: number;
  /** A tissue mask already computed for this slide. */
  mask?: TissueMask;
  seed?: number;
}

const REGION = 256;

/** Pixel index of `img` → is it tissue under `mask` (nearest mask pixel). */
export function tissueSelector(img: RGBImage, mask: TissueMask): (pixel: number) => boolean {
  const sx = mask.width / img.width;
  const sy = mask.height / img.height;
  return (i) => {
    const x = Math.min(mask.width - 1, Math.floor(((i % img.width) + 0.5) * sx));
    const y = Math.min(mask.height - 1, Math.floor((Math.floor(i / img.width) + 0.5) * sy));
    return mask.data[y * mask.width + x] === 1;
  };
}

/** Level-0 centres of up to `n` tissue places, seeded, spread over the mask. */
function tissuePlaces(mask: TissueMask, n: number, seed: number): [number, number][] {
  const tissue: number[] = [];
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) tissue.push(i);
  const rng = createRng(seed);
  const out: [number, number][] = [];
  for (let k = 0; k < n && tissue.length; k++) {
    const i = tissue[rng.int(tissue.length)];
    out.push([
      ((i % mask.width) + 0.5) * mask.downsample,
      (Math.floor(i / mask.width) + 0.5) * mask.downsample,
    ]);
  }
  return out;
}

export interface TissueSample {
  /** RGB pixels of the sampled regions (or of the thumbnail when no tissue was found). */
  pixels: Uint8Array;
  /** 1 where the pixel lies in the tissue mask. */
  keep: Uint8Array;
  background: Vec3;
  mask: TissueMask;
}

/** The tissue pixels a slide's stain is estimated from (see the module comment). */
export async function sampleSlideTissue(slide: Slide, o: SlideStainOptions = {}): Promise<TissueSample> {
  const mask = o.mask ?? (await detectTissue(slide));
  const thumbnail = await slide.thumbnail(o.maxSide ?? 2048);
  const inTissue = tissueSelector(thumbnail, mask);
  const background = estimateBackground(thumbnail.data, thumbnail.channels, inTissue);
  const places = tissuePlaces(mask, o.regions ?? 24, o.seed ?? 1);
  if (places.length === 0) {
    // No tissue found: the thumbnail (estimateStain says so if nothing is stained).
    const n = thumbnail.width * thumbnail.height;
    const pixels = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++)
      pixels.set(thumbnail.data.subarray(i * thumbnail.channels, i * thumbnail.channels + 3), i * 3);
    return { pixels, keep: new Uint8Array(n).fill(1), background, mask };
  }
  const mpp = o.mpp ?? 2;
  const pixels = new Uint8Array(places.length * REGION * REGION * 3);
  const keep = new Uint8Array(places.length * REGION * REGION);
  for (let k = 0; k < places.length; k++) {
    const [cx, cy] = places[k];
    let img: RGBImage;
    let scale: number;
    if (slide.mpp) {
      scale = mpp / slide.mpp.x;
      img = await slide.readAt({
        x: Math.round(cx - (REGION / 2) * scale),
        y: Math.round(cy - (REGION / 2) * scale),
        width: REGION,
        height: REGION,
        mpp,
      });
    } else {
      const level = slide.levels.reduce((best, l, i) => (l.downsample <= 8 ? i : best), 0);
      scale = slide.levels[level].downsample;
      img = await slide.readRegion({
        x: Math.round(cx - (REGION / 2) * scale),
        y: Math.round(cy - (REGION / 2) * scale),
        width: REGION,
        height: REGION,
        level,
      });
    }
    const base = k * REGION * REGION;
    for (let j = 0; j < REGION * REGION; j++) {
      pixels.set(img.data.subarray(j * img.channels, j * img.channels + 3), (base + j) * 3);
      // Tissue under the mask at this pixel's level-0 position.
      const X = cx + ((j % REGION) - REGION / 2) * scale;
      const Y = cy + (Math.floor(j / REGION) - REGION / 2) * scale;
      const mx = Math.floor(X / mask.downsample);
      const my = Math.floor(Y / mask.downsample);
      keep[base + j] =
        mx >= 0 && my >= 0 && mx < mask.width && my < mask.height ? mask.data[my * mask.width + mx] : 0;
    }
  }
  return { pixels, keep, background, mask };
}

export async function estimateSlideStain(
  slide: Slide,
  method: StainMethod,
  o: SlideStainOptions = {},
): Promise<{ estimate: StainEstimate; sample: TissueSample }> {
  const sample = await sampleSlideTissue(slide, o);
  const { pixels, keep, background } = sample;
  const estimate = estimateStain(method, pixels, 3, { tissue: (i) => keep[i] === 1, background });
  return { estimate, sample };
}
