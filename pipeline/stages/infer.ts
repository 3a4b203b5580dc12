/**
 * The `infer` stage: a patch classifier run fully convolutionally over each slide's tissue. Every kept
 * output-grid point becomes a `patches` row (x, y, width, height = its patch's level-0 footprint; score;
 * tissue fraction) and each slide a score in `slide_results` (max; 99th percentile in the details).
 * Tiles without a grid point worth keeping are not run. An interrupted slide is cleared and redone.
 */
import { ConfigError, MissingResolutionError } from '../errors.ts';
import { type FcnTile, level0Of, outputsPerTile, planFcn, readScale } from '../models/fcn-plan.ts';
import { type InferModel, inferExecutor, loadInferModel } from '../models/infer-model.ts';
import { cudaProviderInstalled } from '../models/onnx-runner.ts';
import { recordOodVerdict } from '../ood/model.ts';
import { createPool } from '../pool.ts';
import type { Progress } from '../progress.ts';
import type { Slide } from '../slide/types.ts';
import { modelContentHash } from '../stage/identity.ts';
import { runStage } from '../stage/run-stage.ts';
import type { Stage } from '../stage/types.ts';
import { estimateSlideStain } from '../stain/slide.ts';
import type { Store } from '../store/db.ts';
import { registerModel } from '../store/models.ts';
import {
  deleteSlideScores,
  insertScorePoints,
  type ScorePoint,
  upsertSlideScore,
} from '../store/models-queries.ts';
import { getRun } from '../store/runs.ts';
import type { TaskExecutor } from '../tasks.ts';
import { detectTissue, type TissueMask, tissueFraction } from '../tissue/index.ts';

export interface InferStageOptions {
  model: InferModel;
  /** Run the model at this µm/px instead of the one in its sidecar. */
  mpp?: number;
  /** Level-0 µm/px for slides whose files do not record it. */
  assumeMpp?: number;
  /** onnxruntime threads per worker session (default 1). */
  threads?: number;
  /** Target tile side in model pixels (default 1024 on a CPU, 2048 with onnxruntime's CUDA provider). */
  tileInput?: number;
  /** Grid points whose patch is less tissue than this (0..1) are not stored (default 0.05). */
  minTissue?: number;
  /** Engine name recorded with each slide's score. */
  engine?: string;
  /** Tissue mask source (default: detectTissue with its default options). */
  tissueMask?: (slide: Slide) => Promise<TissueMask>;
}

interface InferState {
  tiles: { tile: FcnTile; keep: Float32Array }[];
  scores: Float32Array;
  filled: number;
  details: Record<string, unknown>;
}

const DEFAULT_MIN_TISSUE = 0.05;

/** High percentile (nearest rank) of the scores. */
function percentile(values: Float32Array, q: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function inferStage(o: InferStageOptions): Stage<InferState, 'infer-tile'> {
  const { model } = o;
  const mpp = o.mpp ?? model.meta.input.mpp;
  if (mpp === null || mpp === undefined)
    throw new ConfigError(`model ${model.dir} has no input µm/px; pass --mpp`);
  const minTissue = o.minTissue ?? DEFAULT_MIN_TISSUE;
  const tileInput = o.tileInput ?? (cudaProviderInstalled() ? 2048 : 1024);
  const geometry = model.geometry;
  const pointOf = (tile: FcnTile, i: number, scale: ReturnType<typeof readScale>) => ({
    x: level0Of((tile.col0 + (i % tile.cols)) * geometry.stride, scale),
    y: level0Of((tile.row0 + Math.floor(i / tile.cols)) * geometry.stride, scale),
  });
  return {
    kind: 'infer',
    taskKind: 'infer-tile',
    unit: 'tiles',
    identity: (store) => ({
      // Worker count, threads, engine and the model's folder do not change results.
      config: {
        model: modelContentHash(model.dir),
        mpp,
        assumeMpp: o.assumeMpp ?? null,
        minTissue,
        tileInput,
      },
      name: `infer ${model.meta.name}`,
      modelId: registerInferModel(store, model),
    }),
    clear(ctx, s) {
      deleteSlideScores(ctx.store, ctx.runId, s.id);
    },
    async plan(ctx, s) {
      const slide = s.slide!;
      if (!slide.mpp)
        throw new MissingResolutionError(`${s.name} does not record its µm/px; pass --assume-mpp`);
      const scale = readScale(slide.levels, slide.mpp.x, mpp);
      const plan = planFcn(slide.width, slide.height, scale, geometry, outputsPerTile(geometry, tileInput));
      const mask = await (o.tissueMask ?? ((sl: Slide) => detectTissue(sl)))(slide);
      // Stain hook: a model trained with --stain-norm sees every slide mapped to its target.
      const stain = model.meta.stain
        ? {
            source: (await estimateSlideStain(slide, model.meta.stain.method, { mask })).estimate,
            target: model.meta.stain.target,
          }
        : undefined;
      // OOD hook: a model with training statistics gives each slide a verdict (upserted, so a redo keeps one).
      const ood = model.meta.ood
        ? await recordOodVerdict(ctx.store, ctx.runId, s.id, slide, model.meta.ood, mask)
        : undefined;
      const footprint = Math.round(geometry.receptiveField * scale.factor);
      // Tissue fraction of every grid point's patch; tiles with no point worth keeping are skipped.
      const tiles: InferState['tiles'] = [];
      let kept = 0;
      for (const tile of plan.tiles) {
        const keep = new Float32Array(tile.rows * tile.cols).fill(-1);
        let any = false;
        for (let i = 0; i < keep.length; i++) {
          const f = tissueFraction(mask, { ...pointOf(tile, i, scale), width: footprint, height: footprint });
          // (fractions are interpolated: float noise around 0 is not tissue)
          if (f >= minTissue && f > 1e-6) {
            keep[i] = f;
            any = true;
            kept++;
          }
        }
        if (any) tiles.push({ tile, keep });
      }
      const state: InferState = {
        tiles,
        scores: new Float32Array(kept),
        filled: 0,
        details: {
          points: kept,
          gridRows: plan.gridRows,
          gridCols: plan.gridCols,
          tiles: tiles.length,
          tilesTotal: plan.tiles.length,
          readMpp: scale.mpp,
          level: scale.level ?? null,
          receptiveField: geometry.receptiveField,
          stride: geometry.stride,
          engine: o.engine ?? null,
          footprint,
          scale,
          ...(ood ? { ood: { outOfDistribution: ood.outOfDistribution, reason: ood.reason } } : {}),
        },
      };
      return {
        state,
        tasks: tiles.map(({ tile }) => ({
          units: 1,
          payload: {
            slidePath: slide.source,
            assumeMpp: o.assumeMpp,
            onnxPath: model.onnxPath ?? '',
            threads: o.threads ?? 1,
            normalisation: model.meta.input.normalisation,
            scale,
            tile,
            stain,
          },
        })),
      };
    },
    onResult(ctx, s, state, index, map) {
      const { tile, keep } = state.tiles[index];
      const scale = state.details.scale as ReturnType<typeof readScale>;
      const footprint = state.details.footprint as number;
      const points: ScorePoint[] = [];
      for (let i = 0; i < keep.length; i++) {
        if (keep[i] < 0) continue;
        points.push({
          ...pointOf(tile, i, scale),
          width: footprint,
          height: footprint,
          level: scale.level ?? null,
          mpp: scale.mpp,
          tissue: keep[i],
          score: map[i],
        });
        state.scores[state.filled++] = map[i];
      }
      insertScorePoints(ctx.store, ctx.runId, s.id, points);
    },
    finish(ctx, s, state) {
      const max = state.scores.length ? state.scores.reduce((a, b) => Math.max(a, b), 0) : null;
      const { scale: _scale, footprint: _footprint, ...details } = state.details;
      upsertSlideScore(ctx.store, ctx.runId, s.id, max, {
        ...details,
        max,
        p99: percentile(state.scores, 0.99),
      });
      return state.scores.length;
    },
  };
}

/** Registers the model (by its folder) and returns its id, for the run row. */
export function registerInferModel(store: Store, m: InferModel): number {
  return registerModel(store, {
    name: m.meta.name,
    kind: m.meta.kind,
    path: m.dir,
    config: { ...m.meta },
    metrics: m.meta.training?.metrics ?? {},
  });
}

export interface InferSlidesOptions extends Omit<InferStageOptions, 'model' | 'engine'> {
  store: Store;
  modelDir: string;
  slides: readonly string[];
  /** Worker threads, each with one ONNX session (default 2); 0 runs on the main thread. */
  workers?: number;
  allowUntrained?: boolean;
  engine?: 'onnx' | 'tfjs';
  progress?: Progress;
  quiet?: boolean;
  /** Run the tiles here (e.g. the queue) instead of a local pool; closed by the caller. */
  executor?: TaskExecutor;
}

export interface SlideInferResult {
  source: string;
  slideId?: string;
  status: 'done' | 'skipped' | 'failed';
  error?: string;
  points?: number;
  tiles?: number;
  tilesRun?: number;
  max?: number | null;
  p99?: number | null;
  seconds?: number;
  /** Out-of-distribution verdict (models trained with statistics of their slides). */
  ood?: { outOfDistribution: boolean; reason: string };
}

/** The whole of `wsi infer` for scripts and tests: model, executor (a pool unless workers = 0), stage. */
export async function inferSlides(o: InferSlidesOptions) {
  const model = await loadInferModel(o.modelDir, {
    allowUntrained: o.allowUntrained,
    engine: o.engine,
    log: o.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  if (o.executor && (!model.onnxPath || o.engine === 'tfjs'))
    throw new ConfigError('running on a queue needs the ONNX engine (the model folder has no model.onnx)');
  const workers = o.workers ?? 2;
  const pool =
    !o.executor && workers > 0 && model.onnxPath && o.engine !== 'tfjs' ? createPool({ workers }) : undefined;
  try {
    const { executor, engine, mode } = o.executor
      ? { executor: o.executor, engine: 'onnx (queue)', mode: 'queue' as const }
      : await inferExecutor(model, { pool, threads: o.threads });
    try {
      const report = await runStage(inferStage({ ...o, model, engine }), {
        store: o.store,
        executor,
        inputs: o.slides,
        assumeMpp: o.assumeMpp,
        progress: o.progress,
      });
      const run = getRun(o.store, report.runId);
      const slides: SlideInferResult[] = report.slides.map((s) => {
        if (s.status !== 'done')
          return { source: s.source, slideId: s.slideId, status: s.status, error: s.error };
        const d = slideDetails(o.store, report.runId, s.slideId as string);
        return {
          source: s.source,
          slideId: s.slideId,
          status: 'done',
          points: s.items,
          tiles: d.tilesTotal,
          tilesRun: d.tiles,
          max: d.max,
          p99: d.p99,
          seconds: s.seconds,
          ...(d.ood ? { ood: d.ood } : {}),
        };
      });
      return {
        runId: report.runId,
        resumed: report.resumed,
        modelId: run?.modelId ?? 0,
        engine,
        mode,
        slides,
        report,
      };
    } finally {
      if (executor !== o.executor) await executor.close();
    }
  } finally {
    await pool?.close();
    model.dispose();
  }
}

function slideDetails(store: Store, runId: number, slideId: string) {
  const r = store.db
    .prepare('SELECT details_json FROM slide_results WHERE run_id = ? AND slide_id = ?')
    .get(runId, slideId) as { details_json: string } | undefined;
  return JSON.parse(r?.details_json ?? '{}') as {
    tiles?: number;
    tilesTotal?: number;
    max?: number | null;
    p99?: number | null;
    ood?: { outOfDistribution: boolean; reason: string };
  };
}
