/**
 * A patch classifier made ready for whole-slide inference: checked (kind, training, geometry), exported
 * to ONNX (tfjs as the fallback when onnxruntime cannot run here), and the executor that scores tiles:
 * the worker pool (one single-threaded session per worker), or the main thread (one session using
 * `threads` threads, or tfjs). Why workers by default: bench/infer.ts measured 0.18–0.21 CPU-seconds per
 * 1020² tile with 1 or 2 single-threaded workers against 0.24–0.26 for one 2-thread session on the main
 * thread (intra-op threading costs ~30 % more per tile), and workers decode tiles in parallel.
 */
import { availableParallelism } from 'node:os';
import type * as tf from '@tensorflow/tfjs';
import { ModelError } from '../errors.ts';
import { poolExecutor, type WorkerPool } from '../pool.ts';
import { createOpenSlideCache } from '../slide/index.ts';
import { inlineExecutor } from '../stage/inline-executor.ts';
import type { TaskExecutor } from '../tasks.ts';
import { initBackend } from './backend.ts';
import { type InferenceEngine, scoreTile } from './fcn-tile.ts';
import type { Geometry } from './geometry.ts';
import { loadModel, type ModelMeta, readModelMeta } from './model-io.ts';
import { exportOnnx } from './onnx-export.ts';
import { onnxFile, onnxRuntimeWorks } from './onnx-file.ts';
import { createOnnxRunner } from './onnx-runner.ts';
import { modelGeometry } from './patch-classifier.ts';
import { tfjsEngine } from './tfjs-engine.ts';

export interface InferModel {
  dir: string;
  meta: ModelMeta;
  geometry: Geometry;
  model: tf.LayersModel;
  /** The exported model's file, or undefined when tfjs runs it. */
  onnxPath?: string;
  onnxBytes?: Uint8Array;
  dispose(): void;
}

export function checkTrained(meta: ModelMeta, dir: string, allowUntrained: boolean): void {
  if (meta.kind !== 'patch-classifier') {
    throw new ModelError(`${dir} holds a '${meta.kind}' model; wsi infer needs a patch-classifier`);
  }
  if (!meta.training && !allowUntrained) {
    throw new ModelError(
      `model ${dir} has no training metadata (untrained or random weights); train it first or pass --allow-untrained`,
    );
  }
}

export async function loadInferModel(
  dir: string,
  o: { allowUntrained?: boolean; engine?: 'onnx' | 'tfjs'; log?: (line: string) => void } = {},
): Promise<InferModel> {
  const meta = readModelMeta(dir);
  checkTrained(meta, dir, o.allowUntrained ?? false);
  await initBackend({ log: o.log ?? (() => {}) });
  const { model } = await loadModel(dir);
  const geometry = modelGeometry(model);
  if (
    meta.geometry &&
    (meta.geometry.receptiveField !== geometry.receptiveField || meta.geometry.stride !== geometry.stride)
  ) {
    model.dispose();
    throw new ModelError(`model ${dir}: sidecar geometry disagrees with the model's layers`);
  }
  // Planar input: tiles are normalised straight into NCHW, so the graph needs no input transpose.
  let onnxBytes = (o.engine ?? 'onnx') === 'onnx' ? exportOnnx(model, { inputLayout: 'nchw' }) : undefined;
  if (onnxBytes && !(await onnxRuntimeWorks(onnxBytes))) {
    // tfjs stays the fallback: same model, same numbers (the export is tested to agree within 1e-4).
    o.log?.('onnxruntime cannot run the model here: falling back to tfjs');
    onnxBytes = undefined;
  }
  return {
    dir,
    meta,
    geometry,
    model,
    onnxBytes,
    onnxPath: onnxBytes ? onnxFile(onnxBytes) : undefined,
    dispose: () => model.dispose(),
  };
}

/**
 * Where 'infer-tile' tasks run: the given pool (ONNX in workers), else the main thread (ONNX with
 * `threads` threads, or tfjs when there is no ONNX export). Closing it closes what it opened.
 */
export async function inferExecutor(
  m: InferModel,
  o: { pool?: WorkerPool; threads?: number } = {},
): Promise<{ executor: TaskExecutor; engine: string; mode: 'pool' | 'main' }> {
  if (o.pool && m.onnxPath) return { executor: poolExecutor(o.pool), engine: 'onnx (workers)', mode: 'pool' };
  let engine: InferenceEngine;
  if (m.onnxBytes) {
    const runner = await createOnnxRunner(m.onnxBytes, { threads: o.threads ?? availableParallelism() });
    engine = {
      name: `onnx-${runner.provider}`,
      inputLayout: runner.inputLayout,
      run: runner.run,
      close: runner.close,
    };
  } else engine = tfjsEngine(m.model);
  const slides = createOpenSlideCache(2);
  const executor = inlineExecutor(
    {
      'infer-tile': async (p) => {
        const slide = await slides.get(p.slidePath, p.assumeMpp ? { fallbackMpp: p.assumeMpp } : undefined);
        return scoreTile(slide, engine, p.normalisation, p.scale, p.tile, p.stain);
      },
    },
    // Two tiles at once: the next tile's read overlaps this tile's inference.
    { size: 1, close: () => engine.close() },
  );
  return { executor, engine: engine.name, mode: 'main' };
}
