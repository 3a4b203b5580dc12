/**
 * The `embed` stage: every patch of a source run (by default each slide's newest 'patches' run, else its
 * newest FCN 'infer' run) is read at the encoder's resolution and embedded by the workers; a slide's
 * vectors are written with its done mark. The run is keyed by the encoder's content, not its folder.
 */
import { resolve } from 'node:path';
import { ConfigError, ModelError } from '../errors.ts';
import { type EmbeddingDtype, encodeEmbedding } from '../mil/embedding-codec.ts';
import { type PatchRead, planPatchRead } from '../mil/patch-read.ts';
import { readModelMeta } from '../models/model-io.ts';
import { FEATURES_LAYER } from '../models/patch-classifier.ts';
import { poolExecutor, type WorkerPool } from '../pool.ts';
import type { Progress } from '../progress.ts';
import { modelContentHash } from '../stage/identity.ts';
import { runStage } from '../stage/run-stage.ts';
import type { Stage, StageReport } from '../stage/types.ts';
import { estimateSlideStain } from '../stain/slide.ts';
import type { Store } from '../store/db.ts';
import {
  newestRunWithPatches,
  type PatchBoxRow,
  patchBoxes,
  writeSlideEmbeddings,
} from '../store/mil-queries.ts';
import { registerModel } from '../store/models.ts';
import { getRun } from '../store/runs.ts';
import type { TaskExecutor } from '../tasks.ts';

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
}

interface EmbedState {
  boxes: PatchBoxRow[];
  /** Box indices per task, in plan order. */
  chunks: number[][];
}

export function embedStage(o: EmbedOptions): Stage<EmbedState, 'embed-patches'> {
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
  let dim: number | undefined;
  let modelHash = '';
  return {
    kind: 'embed',
    taskKind: 'embed-patches',
    unit: 'patches',
    identity(store) {
      if (o.patchesRun !== undefined && !getRun(store, o.patchesRun)) {
        throw new ConfigError(`--patches-run ${o.patchesRun}: no such run in ${store.path}`);
      }
      const modelId = registerModel(store, {
        name: meta.name,
        kind: meta.kind,
        path: modelDir,
        config: meta.training?.config ?? {},
        metrics: meta.training?.metrics ?? {},
      });
      modelHash = modelContentHash(modelDir);
      return {
        config: {
          model: modelHash,
          layer,
          dtype,
          minTissue,
          patchesRun: o.patchesRun ?? 'newest',
          spacing: o.spacing,
        },
        modelId,
        parentRunId: o.patchesRun,
      };
    },
    async plan(ctx, s) {
      const slide = s.slide!;
      const sourceRun = o.patchesRun ?? newestPatchSource(ctx.store, s.id);
      if (sourceRun === undefined) {
        throw new ConfigError(
          `${s.name}: no patches in the store for this slide; run \`wsi patches\` on it first`,
        );
      }
      const all = patchBoxes(ctx.store, sourceRun, s.id, minTissue);
      const boxes = o.spacing ? thinToSpacing(all, o.spacing) : all;
      const model = { mpp: meta.input.mpp, patchSize: meta.input.patchSize };
      const reads = boxes.map((b) =>
        planPatchRead(b, { mpp: slide.mpp?.x ?? null, levels: slide.levels }, model),
      );
      const chunks = chunkReads(reads, batch);
      // Stain hook: a model trained with --stain-norm embeds slides mapped to its target.
      const stain = meta.stain
        ? {
            source: (await estimateSlideStain(slide, meta.stain.method)).estimate,
            target: meta.stain.target,
          }
        : undefined;
      return {
        state: { boxes, chunks },
        tasks: chunks.map((chunk) => {
          const first = reads[chunk[0]];
          return {
            units: chunk.length,
            payload: {
              slidePath: slide.source,
              modelDir,
              modelHash,
              layer,
              mode: first.mode,
              mpp: first.mode === 'mpp' ? first.mpp : 0,
              level: first.mode === 'level' ? first.level : 0,
              size: first.size,
              origins: chunk.flatMap((i) => [reads[i].x, reads[i].y]),
              stain,
            },
          };
        }),
      };
    },
    finish(ctx, s, state, results) {
      const blobs: Buffer[] = new Array(state.boxes.length);
      state.chunks.forEach((chunk, k) => {
        const vectors = results[k];
        const d = vectors.length / chunk.length;
        if (dim !== undefined && d !== dim)
          throw new ModelError(`embedding length changed from ${dim} to ${d}`);
        dim = d;
        chunk.forEach((i, j) => {
          blobs[i] = encodeEmbedding(vectors.subarray(j * d, (j + 1) * d), dtype);
        });
      });
      writeSlideEmbeddings(ctx.store, ctx.runId, s.id, state.boxes, blobs);
      return state.boxes.length;
    },
    end: () => ({ dim: dim ?? null }),
  };
}

/** Reads grouped by window (same mode, resolution and size), cut into batches: one task each. */
function chunkReads(reads: readonly PatchRead[], batch: number): number[][] {
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
  return chunks;
}

function newestPatchSource(store: Store, slideId: string): number | undefined {
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

export interface EmbedSummary {
  runId: number;
  resumed: boolean;
  dim: number | null;
  slides: number;
  skipped: number;
  failed: number;
  patches: number;
  report: StageReport;
}

/** `wsi embed` for scripts and tests: the stage over slide paths with the caller's pool or executor. */
export async function embedSlides(
  store: Store,
  slidePaths: readonly string[],
  o: EmbedOptions & ({ pool: WorkerPool } | { executor: TaskExecutor }) & { progress?: Progress },
): Promise<EmbedSummary> {
  const report = await runStage(embedStage(o), {
    store,
    executor: 'executor' in o ? o.executor : poolExecutor(o.pool),
    progress: o.progress,
    inputs: slidePaths,
  });
  const done = report.slides.filter((s) => s.status === 'done');
  return {
    runId: report.runId,
    resumed: report.resumed,
    dim: (report.counts.dim as number | null) ?? null,
    slides: done.length,
    skipped: report.slides.filter((s) => s.status === 'skipped').length,
    failed: report.failed.length,
    patches: done.reduce((n, s) => n + (s.items ?? 0), 0),
    report,
  };
}
