/**
 * The embedding stage: every patch of a source run (by default the newest 'patches' run of each slide)
 * is read at the encoder's resolution and embedded in the worker pool; the main thread writes the
 * vectors into an 'embed' run, one transaction per slide, so a killed run resumes at the next slide.
 */
import { resolve } from 'node:path';
import type { EmbedTask } from '../../workers/embed-patches.ts';
import { ConfigError, ModelError } from '../errors.ts';
import { readModelMeta } from '../models/model-io.ts';
import { FEATURES_LAYER } from '../models/patch-classifier.ts';
import type { WorkerPool } from '../pool.ts';
import { openSlide } from '../slide/index.ts';
import type { StainPair } from '../stain/apply.ts';
import { estimateSlideStain } from '../stain/slide.ts';
import type { Store } from '../store/db.ts';
import {
  modelIdByPath,
  newestRunWithPatches,
  type PatchBoxRow,
  patchBoxes,
  writeSlideEmbeddings,
} from '../store/mil-queries.ts';
import { registerModel } from '../store/models.ts';
import { beginRun, failRun, finishRun, getRun, isSlideDone } from '../store/runs.ts';
import { upsertSlide } from '../store/slides.ts';
import { type EmbeddingDtype, encodeEmbedding } from './embedding-codec.ts';
import { type PatchRead, planPatchRead } from './patch-read.ts';

/**
 * Run kinds whose patch rows can serve as the grid to embed: a 'patches' run, else an FCN 'infer' run
 * (its rows are the output-grid points with their patch footprints and tissue fractions; use `spacing`
 * to thin that dense lattice).
 */
export const PATCH_SOURCE_KINDS = ['patches', 'infer'] as const;

export interface EmbedOptions {
  modelDir: string;
  /** Encoder layer (default: the classifier's 'features' layer). */
  layer?: string;
  /** Take patch boxes from this run instead of each slide's newest 'patches' run. */
  patchesRun?: number;
  dtype?: EmbeddingDtype;
  /** Skip patches whose tissue fraction is below this. */
  minTissue?: number;
  /** Keep at most one patch per `spacing` × `spacing` level-0 cell (thins dense FCN grids). */
  spacing?: number;
  /** Patches per worker task. */
  batch?: number;
  /** Accept a model without training metadata (random features; for baselines and tests). */
  allowUntrained?: boolean;
  pool: WorkerPool;
  /** Called with each slide's patch count before it is embedded. */
  onPlanned?(patches: number): void;
  /** Called with the number of patches just embedded, and once per slide with its name. */
  onProgress?(patches: number, slideName?: string): void;
  log?(line: string): void;
}

export interface EmbedSummary {
  runId: number;
  resumed: boolean;
  dim: number | null;
  slides: number;
  skipped: number;
  patches: number;
}

export async function embedSlides(
  store: Store,
  slidePaths: readonly string[],
  o: EmbedOptions,
): Promise<EmbedSummary> {
  if (slidePaths.length === 0) throw new ConfigError('no slides given to embed');
  const modelDir = resolve(o.modelDir);
  const meta = readModelMeta(modelDir);
  if (!meta.training && !o.allowUntrained) {
    throw new ModelError(`model ${modelDir} is untrained (its sidecar has no training record)`);
  }
  if (o.spacing !== undefined && !(o.spacing > 0))
    throw new ConfigError(`spacing must be > 0, got ${o.spacing}`);
  const layer = o.layer ?? FEATURES_LAYER;
  const dtype = o.dtype ?? 'float32';
  const batch = o.batch ?? 16;
  const minTissue = o.minTissue ?? 0;
  if (o.patchesRun !== undefined && !getRun(store, o.patchesRun)) {
    throw new ConfigError(`--patches-run ${o.patchesRun}: no such run in ${store.path}`);
  }
  const modelId =
    modelIdByPath(store, modelDir) ??
    registerModel(store, {
      name: meta.name,
      kind: meta.kind,
      path: modelDir,
      config: meta.training?.config ?? {},
      metrics: meta.training?.metrics ?? {},
    });
  const config = {
    model: modelDir,
    layer,
    dtype,
    minTissue,
    patchesRun: o.patchesRun ?? 'newest',
    spacing: o.spacing,
  };
  const { runId, resumed } = beginRun(store, 'embed', config, { modelId, parentRunId: o.patchesRun });
  const summary: EmbedSummary = { runId, resumed, dim: null, slides: 0, skipped: 0, patches: 0 };
  try {
    for (const path of slidePaths) {
      const slide = await openSlide(path);
      let slideId: string;
      let info: { mpp: number | null; levels: typeof slide.levels };
      let stain: StainPair | undefined;
      try {
        slideId = upsertSlide(store, slide);
        info = { mpp: slide.mpp?.x ?? null, levels: slide.levels };
        if (isSlideDone(store, runId, slideId)) {
          summary.skipped++;
          continue;
        }
        // Stain hook: a model trained with --stain-norm embeds slides mapped to its target.
        if (meta.stain)
          stain = {
            source: (await estimateSlideStain(slide, meta.stain.method)).estimate,
            target: meta.stain.target,
          };
      } finally {
        await slide.close();
      }
      const sourceRun = o.patchesRun ?? firstRunWithPatches(store, slideId);
      if (sourceRun === undefined) {
        throw new ConfigError(
          `${path}: no patches in the store for this slide; run \`wsi patches\` on it first`,
        );
      }
      const all = patchBoxes(store, sourceRun, slideId, minTissue);
      const boxes = o.spacing ? thinToSpacing(all, o.spacing) : all;
      o.onPlanned?.(boxes.length);
      const model = { mpp: meta.input.mpp, patchSize: meta.input.patchSize };
      const reads = boxes.map((b) => planPatchRead(b, info, model));
      const vectors = await embedReads(path, modelDir, layer, reads, batch, o, stain);
      const dim = boxes.length ? vectors.length / boxes.length : (summary.dim ?? 0);
      if (summary.dim !== null && boxes.length && dim !== summary.dim) {
        throw new ModelError(`embedding length changed from ${summary.dim} to ${dim}`);
      }
      if (boxes.length) summary.dim = dim;
      const blobs = boxes.map((_, i) => encodeEmbedding(vectors.subarray(i * dim, (i + 1) * dim), dtype));
      writeSlideEmbeddings(store, runId, slideId, boxes as PatchBoxRow[], blobs);
      summary.slides++;
      summary.patches += boxes.length;
      o.onProgress?.(0, path);
    }
    finishRun(store, runId, {
      slides: summary.slides,
      skipped: summary.skipped,
      patches: summary.patches,
      dim: summary.dim,
    });
    return summary;
  } catch (err) {
    failRun(store, runId, (err as Error).message);
    throw err;
  }
}

function firstRunWithPatches(store: Store, slideId: string): number | undefined {
  for (const kind of PATCH_SOURCE_KINDS) {
    const id = newestRunWithPatches(store, slideId, [kind]);
    if (id !== undefined) return id;
  }
  return undefined;
}

/**
 * One patch per `spacing` × `spacing` cell of level 0: the patch whose centre is nearest the cell centre.
 * Deterministic (depends only on the rows), so a resumed run embeds the same patches.
 */
export function thinToSpacing<T extends PatchBoxRow>(rows: readonly T[], spacing: number): T[] {
  const best = new Map<string, { row: T; d: number }>();
  for (const r of rows) {
    const cx = r.x + r.width / 2;
    const cy = r.y + r.height / 2;
    const i = Math.floor(cx / spacing);
    const j = Math.floor(cy / spacing);
    const d = Math.hypot(cx - (i + 0.5) * spacing, cy - (j + 0.5) * spacing);
    const key = `${i},${j}`;
    const cur = best.get(key);
    if (!cur || d < cur.d) best.set(key, { row: r, d });
  }
  return [...best.values()].map((b) => b.row).sort((a, b) => a.y - b.y || a.x - b.x);
}

/** Embeds planned reads in the pool, batching windows of equal size; returns [reads × dim] in order. */
async function embedReads(
  slidePath: string,
  modelDir: string,
  layer: string,
  reads: readonly PatchRead[],
  batch: number,
  o: EmbedOptions,
  stain?: StainPair,
): Promise<Float32Array> {
  const groups = new Map<string, number[]>();
  reads.forEach((r, i) => {
    const key = r.mode === 'mpp' ? `m${r.mpp}/${r.size}` : `l${r.level}/${r.size}`;
    const list = groups.get(key) ?? [];
    list.push(i);
    groups.set(key, list);
  });
  const chunks: number[][] = [];
  for (const idx of groups.values())
    for (let s = 0; s < idx.length; s += batch) chunks.push(idx.slice(s, s + batch));
  let out: Float32Array | undefined;
  await Promise.all(
    chunks.map(async (chunk) => {
      const first = reads[chunk[0]];
      const task: EmbedTask = {
        slidePath,
        modelDir,
        layer,
        mode: first.mode,
        mpp: first.mode === 'mpp' ? first.mpp : 0,
        level: first.mode === 'level' ? first.level : 0,
        size: first.size,
        origins: chunk.flatMap((i) => [reads[i].x, reads[i].y]),
        stain,
      };
      const result = await o.pool.run<Float32Array>('embed-patches', task);
      const dim = result.length / chunk.length;
      out ??= new Float32Array(reads.length * dim);
      chunk.forEach((i, k) => {
        out?.set(result.subarray(k * dim, (k + 1) * dim), i * dim);
      });
      o.onProgress?.(chunk.length);
    }),
  );
  return out ?? new Float32Array(0);
}
