/**
 * Saliency strips for a slide's top-attention patches (study report): each patch is read at the patch
 * classifier's µm/px and patch size around the stored patch's centre, and written as
 * [patch | gradient saliency | Grad-CAM] (pipeline/models/saliency.ts) so a reader sees whether the
 * model looks at nuclei or at stain and background.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ModelMeta } from '../models/model-io.ts';
import { normaliseInto } from '../models/normalise.ts';
import { saliency } from '../models/saliency.ts';
import { writeSaliencyStrip } from '../models/saliency-image.ts';
import { openSlide } from '../slide/index.ts';
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

/** Writes one strip per patch to `fileFor(i)`; returns what was written, in patch order. */
export async function writeSaliencyPanels(
  model: tf.LayersModel,
  meta: ModelMeta,
  slidePath: string,
  patches: readonly AttentionPatch[],
  fileFor: (i: number) => string,
): Promise<SaliencyPanel[]> {
  const P = meta.input.patchSize;
  const s = await openSlide(slidePath);
  try {
    // A model trained with --stain-norm sees slides mapped to its stain target: so does its saliency.
    const stain: StainPair | undefined = meta.stain
      ? { source: (await estimateSlideStain(s, meta.stain.method)).estimate, target: meta.stain.target }
      : undefined;
    const out: SaliencyPanel[] = [];
    for (const [i, p] of patches.entries()) {
      // Exactly one receptive field around the patch centre (planPatchRead keeps the centre).
      const centre = { x: p.x + p.width / 2, y: p.y + p.height / 2, width: 0, height: 0, level: 0 };
      const plan = planPatchRead(
        centre,
        { mpp: s.mpp?.x ?? null, levels: s.levels },
        {
          mpp: meta.input.mpp,
          patchSize: P,
        },
      );
      const region = { x: plan.x, y: plan.y, width: P, height: P };
      const raw =
        plan.mode === 'mpp'
          ? await s.readAt({ ...region, mpp: plan.mpp })
          : await s.readRegion({ ...region, level: plan.level });
      const img = applyStain(raw, stain);
      const rgb = new Uint8Array(P * P * 3);
      for (let k = 0; k < P * P; k++)
        for (let c = 0; c < 3; c++) rgb[k * 3 + c] = img.data[k * img.channels + c];
      const x = new Float32Array(P * P * 3);
      normaliseInto(rgb, 3, meta.input.normalisation, x, 0);
      const maps = saliency(model, x, P);
      const file = fileFor(i);
      await writeSaliencyStrip(file, rgb, maps);
      out.push({ file, x: p.x, y: p.y, score: maps.score });
    }
    return out;
  } finally {
    await s.close();
  }
}
