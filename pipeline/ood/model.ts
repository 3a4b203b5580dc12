/**
 * The model side: statistics of the training slides written into a trained model's sidecar (`ood`), and
 * the verdict for one slide scored with it (stored with the run). Slides already registered in the store
 * (MIL, which works from an embed run's slide ids) are measured from their stored path, or not at all
 * when an earlier run measured them: a slide's statistics depend only on its content (its id), the
 * default tissue mask and the seeded regions, so the stored measurement is the one a new one would give.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SlideNotFoundError, StoreError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { SIDECAR_JSON } from '../models/model-io.ts';
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import type { Store } from '../store/index.ts';
import { getSlide } from '../store/slides.ts';
import type { TissueMask } from '../tissue/types.ts';
import { storedSlideStats, writeOodVerdict } from './store.ts';
import {
  buildOodReference,
  type OodReference,
  type OodVerdict,
  oodVerdict,
  type SlideStats,
  slideStats,
} from './verdict.ts';

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

/** Compares, stores (upsert: one row per run and slide) and returns the verdict. */
function storeVerdict(
  store: Store,
  runId: number,
  slideId: string,
  ref: OodReference,
  stats: SlideStats,
  statedMpp: number | undefined,
): OodVerdict {
  const v = oodVerdict(ref, stats, statedMpp);
  writeOodVerdict(store, runId, slideId, v);
  return v;
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
  return storeVerdict(store, runId, slideId, ref, await slideStats(slide, mask), slide.mpp?.x);
}

/**
 * Statistics of a registered slide: an earlier run's measurement when there is one, else measured from the
 * slide's stored path (at its stored µm/px when the file records none). SlideNotFoundError when neither
 * works: `wsi mil infer` then fails that slide rather than give its probability without a verdict.
 */
export async function registeredSlideStats(
  store: Store,
  slideId: string,
): Promise<{ stats: SlideStats; statedMpp?: number }> {
  const row = getSlide(store, slideId);
  if (!row) throw new StoreError(`slide ${slideId} is not in the store`);
  const statedMpp = row.mppX ?? undefined;
  const stored = storedSlideStats(store, slideId);
  if (stored) return { stats: stored, statedMpp };
  let slide: Slide;
  try {
    slide = await openSlide(row.path, statedMpp ? { fallbackMpp: statedMpp } : undefined);
  } catch (err) {
    // Scores are not given without a verdict: say what the check needs.
    throw new SlideNotFoundError(
      `${row.name}: not measured by an earlier run and its file cannot be read for the out-of-distribution ` +
        `check (${(err as Error).message.split('\n')[0]})`,
      { cause: err },
    );
  }
  try {
    return { stats: await slideStats(slide), statedMpp: slide.mpp?.x ?? statedMpp };
  } finally {
    await slide.close();
  }
}

/** The verdict for a registered slide (by id), stored with the run. */
export async function recordRegisteredVerdict(
  store: Store,
  runId: number,
  slideId: string,
  ref: OodReference,
): Promise<OodVerdict> {
  const { stats, statedMpp } = await registeredSlideStats(store, slideId);
  return storeVerdict(store, runId, slideId, ref, stats, statedMpp);
}

/**
 * The reference of registered training slides (MIL training). Slides whose files cannot be read any more
 * are left out, said in one line through `log`; undefined when none could be measured.
 */
export async function oodReferenceOfRegistered(
  store: Store,
  slideIds: readonly string[],
  log?: (line: string) => void,
): Promise<OodReference | undefined> {
  const stats: SlideStats[] = [];
  const missed: string[] = [];
  for (const id of slideIds) {
    try {
      stats.push((await registeredSlideStats(store, id)).stats);
    } catch (err) {
      missed.push(`${getSlide(store, id)?.name ?? id} (${(err as Error).message.split('\n')[0]})`);
    }
  }
  if (missed.length)
    log?.(
      `out-of-distribution reference: ${missed.length} of ${slideIds.length} slides could not be measured, ` +
        `e.g. ${missed[0]}${stats.length ? '' : '; the model gets no reference'}`,
    );
  return stats.length ? buildOodReference(stats) : undefined;
}
