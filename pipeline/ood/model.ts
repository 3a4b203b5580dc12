/**
 * The model side: statistics of the training slides written into a trained model's sidecar (`ood`), and
 * the verdict for one slide scored with it (stored with the run).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { SIDECAR_JSON } from '../models/model-io.ts';
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import type { Store } from '../store/index.ts';
import type { TissueMask } from '../tissue/types.ts';
import { writeOodVerdict } from './store.ts';
import { buildOodReference, type OodReference, type OodVerdict, oodVerdict, slideStats } from './verdict.ts';

/** Measures the training slides and adds `ood` to the model's sidecar. */
export async function attachOodReference(
  modelDir: string,
  trainSlides: readonly string[],
): Promise<OodReference> {
  const stats = [];
  for (const p of trainSlides) {
    const slide = await openSlide(p);
    try {
      stats.push(await slideStats(slide));
    } finally {
      await slide.close();
    }
  }
  const ref = buildOodReference(stats);
  const file = path.join(modelDir, SIDECAR_JSON);
  const meta = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileAtomic(file, `${JSON.stringify({ ...meta, ood: ref }, null, 2)}\n`);
  return ref;
}

/** The verdict for a slide scored by a model with an `ood` reference, stored with the run. */
export async function recordOodVerdict(
  store: Store,
  runId: number,
  slideId: string,
  slide: Slide,
  ref: OodReference,
  mask?: TissueMask,
): Promise<OodVerdict> {
  const v = oodVerdict(ref, await slideStats(slide, mask), slide.mpp?.x);
  writeOodVerdict(store, runId, slideId, v);
  return v;
}
