/**
 * Saliency strips for a slide's top-attention patches (study report): each patch is read at the patch
 * classifier's µm/px and patch size around the stored patch's centre, and written as
 * [patch | gradient saliency | Grad-CAM] (pipeline/models/saliency.ts) so a reader sees whether the
 * model looks at nuclei or at stain and background. The viewer's attention gallery computes the same
 * maps on demand (viewer/server/saliency.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelMeta } from '../models/model-io.ts';
import { normaliseInto } from '../models/normalise.ts';
import { type SaliencyMaps, saliency } from '../models/saliency.ts';
import { writeSaliencyStrip } from '../models/saliency-image.ts';
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import { applyStain, type StainPair } from '../stain/apply.ts';
import { estimateSlideStain } from '../stain/slide.ts';
import type { AttentionPatch } from '../store/viewer-queries.ts';
import { planPatchRead } from './patch-read.ts';

export interface SaliencyPanel {
  file: string;
  x: number;
  y: number;
  /** The classifier's probability for the patch as read here. */
  score: number;
}

/** The stain mapping a model trained with --stain-norm applies to this slide (undefined: raw pixels). */
export async function modelStainFor(meta: ModelMeta, slide: Slide): Promise<StainPair | undefined> {
  return meta.stain
    ? { source: (await estimateSlideStain(slide, meta.stain.method)).estimate, target: meta.stain.target }
    : undefined;
}

/**
 * One stored patch as the classifier sees it: exactly one receptive field around the patch centre, at the
 * model's µm/px, stain-mapped; its saliency maps and the RGB pixels they lie over (P × P × 3).
 */
export async function patchSaliency(
  model: tf.LayersModel,
  meta: ModelMeta,
  slide: Slide,
  stain: StainPair | undefined,
  p: { x: number; y: number; width: number; height: number },
): Promise<{ rgb: Uint8Array; maps: SaliencyMaps }> {
  const P = meta.input.patchSize;
  const centre = { x: p.x + p.width / 2, y: p.y + p.height / 2, width: 0, height: 0, level: 0 };
  const plan = planPatchRead(
    centre,
    { mpp: slide.mpp?.x ?? null, levels: slide.levels },
    { mpp: meta.input.mpp, patchSize: P },
  );
  const region = { x: plan.x, y: plan.y, width: P, height: P };
  const raw =
    plan.mode === 'mpp'
      ? await slide.readAt({ ...region, mpp: plan.mpp })
      : await slide.readRegion({ ...region, level: plan.level });
  const img = applyStain(raw, stain);
  const rgb = new Uint8Array(P * P * 3);
  for (let k = 0; k < P * P; k++) for (let c = 0; c < 3; c++) rgb[k * 3 + c] = img.data[k * img.channels + c];
  const x = new Float32Array(P * P * 3);
  normaliseInto(rgb, 3, meta.input.normalisation, x, 0);
  return { rgb, maps: saliency(model, x, P) };
}

/** Writes one strip per patch to `fileFor(i)`; returns what was written, in patch order. */
export async function writeSaliencyPanels(
  model: tf.LayersModel,
  meta: ModelMeta,
  slidePath: string,
  patches: readonly AttentionPatch[],
  fileFor: (i: number) => string,
): Promise<SaliencyPanel[]> {
  const s = await openSlide(slidePath);
  try {
    // A model trained with --stain-norm sees slides mapped to its stain target: so does its saliency.
    const stain = await modelStainFor(meta, s);
    const out: SaliencyPanel[] = [];
    for (const [i, p] of patches.entries()) {
      const { rgb, maps } = await patchSaliency(model, meta, s, stain, p);
      const file = fileFor(i);
      await writeSaliencyStrip(file, rgb, maps);
      out.push({ file, x: p.x, y: p.y, score: maps.score });
    }
    return out;
  } finally {
    await s.close();
  }
}
