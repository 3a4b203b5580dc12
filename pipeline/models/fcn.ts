/**
 * Fully convolutional inference over whole slides: the patch classifier runs on tissue tiles (overlap =
 * receptive field − stride, so the stitched map is seamless), every output-grid point becomes a `patches`
 * row of an 'infer' run (x, y, width, height = its patch's level-0 footprint; score; tissue fraction),
 * and each slide gets a score (max, with the 99th percentile in the details) in `slide_results`.
 *
 * Execution: onnxruntime (exported from the tfjs model) in Piscina workers, one single-threaded session
 * each (the default, 2 workers), or on the main thread with `workers: 0` (one session using `threads`
 * threads); tfjs on the main thread is the reference/fallback engine. Why workers: bench/infer.ts measured
 * 0.18–0.21 CPU-seconds per 1020² tile (read + decode + ONNX) with 1 or 2 single-threaded workers against
 * 0.24–0.26 for one 2-thread session on the main thread (intra-op threading costs ~30 % more per tile), and the
 * workers also decode tiles in parallel; their start-up (~2–4 s) only matters for tiny slides. Resumable per slide: a slide's rows, score and done mark are
 * final only when the done mark is written; an interrupted slide is cleared and redone.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, ModelError, WsiError } from '../errors.ts';
import { createPool, type WorkerPool } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { type QueueFlags, taskExecutor } from '../queue/task-executor.ts';
import { openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import {
  beginRun,
  failRun,
  finishRun,
  isSlideDone,
  markSlideDone,
  markSlideFailed,
  registerModel,
  type Store,
  upsertSlide,
} from '../store/index.ts';
import {
  deleteSlideScores,
  insertScorePoints,
  type ScorePoint,
  upsertSlideScore,
} from '../store/models-queries.ts';
import { detectTissue, type TissueMask, tissueFraction } from '../tissue/index.ts';
import { initBackend } from './backend.ts';
import { type FcnPlan, type FcnTile, level0Of, outputsPerTile, planFcn, readScale } from './fcn-plan.ts';
import { type InferenceEngine, scoreTile } from './fcn-tile.ts';
import {
  loadModel,
  MODEL_JSON,
  type ModelMeta,
  readModelMeta,
  SIDECAR_JSON,
  WEIGHTS_BIN,
} from './model-io.ts';
import { exportOnnx } from './onnx-export.ts';
import { createOnnxRunner, cudaProviderInstalled } from './onnx-runner.ts';
import { modelGeometry } from './patch-classifier.ts';
import { tfjsEngine } from './tfjs-engine.ts';

export interface InferOptions {
  store: Store;
  modelDir: string;
  slides: readonly string[];
  /** Run the model at this µm/px instead of the one in its sidecar. */
  mpp?: number;
  /** Level-0 µm/px for slides whose files do not record it. */
  assumeMpp?: number;
  /** Piscina workers; 0 runs on the main thread. Default 2 (measured faster here; see bench/infer.ts). */
  workers?: number;
  /** onnxruntime intra-op threads per session (default 1 per worker, all cores on the main thread). */
  threads?: number;
  /** Target tile side in model pixels (default 1024 on a CPU, 2048 with onnxruntime's CUDA provider). */
  tileInput?: number;
  /** Grid points whose patch is less tissue than this (0..1) are not stored (default 0.05). */
  minTissue?: number;
  allowUntrained?: boolean;
  /** 'onnx' (default) or 'tfjs' (reference, main thread only). */
  engine?: 'onnx' | 'tfjs';
  quiet?: boolean;
  /** Tissue mask source (default: pipeline/tissue's detectTissue with its default options). */
  tissueMask?: (slide: Slide) => Promise<TissueMask>;
  /** Score tiles on the queue (--queue) instead of local worker threads. */
  queue?: QueueFlags;
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
}

export interface InferSummary {
  runId: number;
  resumed: boolean;
  modelId: number;
  engine: string;
  mode: 'pool' | 'main';
  slides: SlideInferResult[];
}

/** Tile side: about 1 Mpx keeps activations small on a CPU; a GPU wants bigger launches. */
const DEFAULT_TILE_INPUT = cudaProviderInstalled() ? 2048 : 1024;
const DEFAULT_MIN_TISSUE = 0.05;

/** Identity of a saved model: weights + topology + sidecar. Retraining into the same directory changes it. */
function modelHash(dir: string): string {
  const h = createHash('sha256');
  for (const f of [MODEL_JSON, WEIGHTS_BIN, SIDECAR_JSON]) {
    try {
      h.update(readFileSync(path.join(dir, f)));
    } catch {
      throw new ModelError(`model file missing: ${path.join(dir, f)}`);
    }
  }
  return h.digest('hex');
}

/** Writes the ONNX export to a temp file named by its content hash (workers load it from there). */
function onnxFile(bytes: Uint8Array): string {
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const file = path.join(tmpdir(), `wsi-model-${hash}.onnx`);
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, bytes);
    renameSync(tmp, file);
  }
  return file;
}

/** True when onnxruntime loads the exported model (a missing or broken native binding means no). */
async function onnxRuntimeWorks(bytes: Uint8Array): Promise<boolean> {
  try {
    const probe = await createOnnxRunner(bytes, { threads: 1, gpu: false });
    await probe.close();
    return true;
  } catch {
    return false;
  }
}

/** High percentile (nearest rank) of the scores. */
function percentile(values: Float32Array, q: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float32Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function checkTrained(meta: ModelMeta, dir: string, allowUntrained: boolean): void {
  if (meta.kind !== 'patch-classifier') {
    throw new ModelError(`${dir} holds a '${meta.kind}' model; wsi infer needs a patch-classifier`);
  }
  if (!meta.training && !allowUntrained) {
    throw new ModelError(
      `model ${dir} has no training metadata (untrained or random weights); train it first or pass --allow-untrained`,
    );
  }
}

type TileRunner = (slide: Slide, tile: FcnTile, plan: FcnPlan) => Promise<Float32Array>;

interface Executor {
  engine: string;
  mode: 'pool' | 'main';
  /** Tiles scored at once. */
  parallel: number;
  runTile: TileRunner;
  close(): Promise<void>;
}

async function createExecutor(
  opts: InferOptions,
  meta: ModelMeta,
  onnxBytes: Uint8Array | undefined,
  tfEngine: InferenceEngine | undefined,
  runId: number,
): Promise<Executor> {
  const workers = opts.workers ?? 2;
  const norm = meta.input.normalisation;
  if (tfEngine) {
    return {
      engine: tfEngine.name,
      mode: 'main',
      parallel: 1,
      runTile: (slide, tile, plan) => scoreTile(slide, tfEngine, norm, plan.scale, tile),
      close: () => tfEngine.close(),
    };
  }
  if (!onnxBytes) throw new Error('no ONNX model');
  if (workers === 0) {
    const runner = await createOnnxRunner(onnxBytes, { threads: opts.threads ?? availableParallelism() });
    const engine: InferenceEngine = {
      name: `onnx-${runner.provider}`,
      inputLayout: runner.inputLayout,
      run: runner.run,
      close: runner.close,
    };
    return {
      engine: engine.name,
      mode: 'main',
      parallel: 2, // overlap the next tile's read with this tile's inference
      runTile: (slide, tile, plan) => scoreTile(slide, engine, norm, plan.scale, tile),
      close: () => runner.close(),
    };
  }
  const onnxPath = onnxFile(onnxBytes);
  const pool: WorkerPool = await taskExecutor(
    opts.queue,
    { store: opts.store, runId, label: `infer run ${runId}` },
    () => createPool({ workers }),
  );
  return {
    engine: 'onnx (workers)',
    mode: 'pool',
    parallel: pool.size * 2,
    runTile: (slide, tile, plan) =>
      pool.run<Float32Array>('infer-tile', {
        slidePath: slide.source,
        assumeMpp: opts.assumeMpp,
        onnxPath,
        threads: opts.threads ?? 1,
        normalisation: norm,
        scale: plan.scale,
        tile,
      }),
    close: () => pool.close(),
  };
}

/** Runs `fn` over items with at most `limit` in flight, in order of start. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

export async function inferSlides(opts: InferOptions): Promise<InferSummary> {
  const { store, modelDir } = opts;
  if (opts.slides.length === 0) throw new ConfigError('no slides given');
  const meta = readModelMeta(modelDir);
  checkTrained(meta, modelDir, opts.allowUntrained ?? false);
  const mpp = opts.mpp ?? meta.input.mpp;
  if (mpp === null || mpp === undefined) {
    throw new ConfigError(`model ${modelDir} has no input µm/px; pass --mpp`);
  }
  const minTissue = opts.minTissue ?? DEFAULT_MIN_TISSUE;
  const tileInput = opts.tileInput ?? DEFAULT_TILE_INPUT;
  const engineKind = opts.engine ?? 'onnx';

  await initBackend({ log: opts.quiet ? () => {} : undefined });
  const { model } = await loadModel(modelDir);
  const geometry = modelGeometry(model);
  if (
    meta.geometry &&
    (meta.geometry.receptiveField !== geometry.receptiveField || meta.geometry.stride !== geometry.stride)
  ) {
    throw new ModelError(`model ${modelDir}: sidecar geometry disagrees with the model's layers`);
  }
  // Planar input: tiles are normalised straight into NCHW, so the graph needs no input transpose.
  let onnxBytes = engineKind === 'onnx' ? exportOnnx(model, { inputLayout: 'nchw' }) : undefined;
  if (onnxBytes && !(await onnxRuntimeWorks(onnxBytes))) {
    // tfjs stays the fallback: same model, same numbers (the export is tested to agree within 1e-4).
    if (!opts.quiet) process.stderr.write('onnxruntime cannot run the model here: falling back to tfjs\n');
    onnxBytes = undefined;
  }
  const tfEngine = onnxBytes ? undefined : tfjsEngine(model);

  const modelId = registerModel(store, {
    name: meta.name,
    kind: meta.kind,
    path: modelDir,
    config: { ...meta },
    metrics: meta.training?.metrics ?? {},
  });
  // Worker count, threads and engine do not change results: they are not part of the run's identity.
  const config = {
    model: modelHash(modelDir),
    modelPath: path.resolve(modelDir),
    mpp,
    assumeMpp: opts.assumeMpp ?? null,
    minTissue,
    tileInput,
  };
  const { runId, resumed } = beginRun(store, 'infer', config, { modelId, name: `infer ${meta.name}` });
  const exec = await createExecutor(opts, meta, onnxBytes, tfEngine, runId);
  const progress = createProgress({ total: 0, label: 'infer', unit: 'tiles', quiet: opts.quiet });
  const results: SlideInferResult[] = [];
  let totalTiles = 0;
  try {
    for (const source of opts.slides) {
      const started = performance.now();
      let slide: Slide | undefined;
      let slideId: string | undefined;
      try {
        slide = await openSlide(source, opts.assumeMpp ? { fallbackMpp: opts.assumeMpp } : undefined);
        slideId = upsertSlide(store, slide);
        if (isSlideDone(store, runId, slideId)) {
          results.push({ source, slideId, status: 'skipped' });
          continue;
        }
        deleteSlideScores(store, runId, slideId);
        if (!slide.mpp) {
          throw new ConfigError(`${source} does not record its µm/px; pass --assume-mpp`);
        }
        const scale = readScale(slide.levels, slide.mpp.x, mpp);
        const plan = planFcn(slide.width, slide.height, scale, geometry, outputsPerTile(geometry, tileInput));
        const mask = await (opts.tissueMask ?? ((sl: Slide) => detectTissue(sl)))(slide);
        const footprint = Math.round(geometry.receptiveField * scale.factor);
        // Tissue fraction of every grid point's patch; tiles with no point worth keeping are skipped.
        const tiles: { tile: FcnTile; keep: Float32Array }[] = [];
        let kept = 0;
        for (const tile of plan.tiles) {
          const keep = new Float32Array(tile.rows * tile.cols).fill(-1);
          let any = false;
          for (let r = 0; r < tile.rows; r++) {
            for (let c = 0; c < tile.cols; c++) {
              const x = level0Of((tile.col0 + c) * geometry.stride, scale);
              const y = level0Of((tile.row0 + r) * geometry.stride, scale);
              const f = tissueFraction(mask, { x, y, width: footprint, height: footprint });
              // (fractions are interpolated: float noise around 0 is not tissue)
              if (f >= minTissue && f > 1e-6) {
                keep[r * tile.cols + c] = f;
                any = true;
                kept++;
              }
            }
          }
          if (any) tiles.push({ tile, keep });
        }
        totalTiles += tiles.length;
        progress.setTotal(totalTiles);
        const scores = new Float32Array(kept);
        let filled = 0;
        const s = slide;
        const id = slideId;
        await forEachLimited(tiles, exec.parallel, async ({ tile, keep }) => {
          const map = await exec.runTile(s, tile, plan);
          const points: ScorePoint[] = [];
          for (let i = 0; i < keep.length; i++) {
            if (keep[i] < 0) continue;
            const r = Math.floor(i / tile.cols);
            const c = i % tile.cols;
            points.push({
              x: level0Of((tile.col0 + c) * geometry.stride, scale),
              y: level0Of((tile.row0 + r) * geometry.stride, scale),
              width: footprint,
              height: footprint,
              level: scale.level ?? null,
              mpp: scale.mpp,
              tissue: keep[i],
              score: map[i],
            });
            scores[filled++] = map[i];
          }
          insertScorePoints(store, runId, id, points);
          progress.tick(1);
        });
        const max = scores.length ? scores.reduce((a, b) => Math.max(a, b), 0) : null;
        const p99 = percentile(scores, 0.99);
        store.db.transaction(() => {
          upsertSlideScore(store, runId, id, max, {
            max,
            p99,
            points: kept,
            gridRows: plan.gridRows,
            gridCols: plan.gridCols,
            tiles: tiles.length,
            tilesTotal: plan.tiles.length,
            readMpp: scale.mpp,
            level: scale.level ?? null,
            receptiveField: geometry.receptiveField,
            stride: geometry.stride,
            engine: exec.engine,
          });
          markSlideDone(store, runId, id, kept);
        })();
        results.push({
          source,
          slideId: id,
          status: 'done',
          points: kept,
          tiles: plan.tiles.length,
          tilesRun: tiles.length,
          max,
          p99,
          seconds: (performance.now() - started) / 1000,
        });
      } catch (err) {
        if (!(err instanceof WsiError)) throw err;
        if (slideId) markSlideFailed(store, runId, slideId, err.message);
        results.push({ source, slideId, status: 'failed', error: err.message });
      } finally {
        await slide?.close();
      }
    }
  } catch (err) {
    failRun(store, runId, (err as Error).message);
    throw err;
  } finally {
    progress.done();
    await exec.close();
    model.dispose();
  }
  const failed = results.filter((r) => r.status === 'failed');
  // Totals over every attempt of the run (a resumed run skips slides done earlier).
  const counts = store.db
    .prepare(
      `SELECT count(*) AS slides, coalesce(sum(items), 0) AS points FROM run_slides WHERE run_id = ? AND status = 'done'`,
    )
    .get(runId) as { slides: number; points: number };
  if (failed.length > 0) failRun(store, runId, failed.map((f) => `${f.source}: ${f.error}`).join('; '));
  else finishRun(store, runId, counts);
  return { runId, resumed, modelId, engine: exec.engine, mode: exec.mode, slides: results };
}
