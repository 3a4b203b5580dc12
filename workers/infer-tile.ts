/**
 * Worker task: score one FCN tile with onnxruntime (one single-threaded session per worker; parallelism
 * comes from running several workers). Slides and sessions stay open between tasks.
 */
import { readFileSync } from 'node:fs';
import { Piscina } from 'piscina';
import { type InferenceEngine, scoreTile } from '../pipeline/models/fcn-tile.ts';
import { createOnnxRunner } from '../pipeline/models/onnx-runner.ts';
import { createOpenSlideCache } from '../pipeline/slide/index.ts';
import type { InferTilePayload } from '../pipeline/tasks.ts';
import { cachedModel } from './model-cache.ts';

export type { InferTilePayload };

const slides = createOpenSlideCache(2);

function engineFor(onnxPath: string, threads: number): Promise<InferenceEngine> {
  return cachedModel(`onnx\0${onnxPath}\0${threads}`, () =>
    createOnnxRunner(readFileSync(onnxPath), { threads }).then((r) => ({
      name: `onnx-${r.provider}`,
      inputLayout: r.inputLayout,
      run: r.run,
      close: r.close,
    })),
  );
}

export async function run(p: InferTilePayload): Promise<unknown> {
  const [slide, engine] = await Promise.all([
    slides.get(p.slidePath, p.assumeMpp ? { fallbackMpp: p.assumeMpp } : undefined),
    engineFor(p.onnxPath, p.threads),
  ]);
  const scores = await scoreTile(slide, engine, p.normalisation, p.scale, p.tile, p.stain);
  return Piscina.move(new Float32Array(scores)); // a fresh buffer: the runtime's may be pooled
}
