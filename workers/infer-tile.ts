/**
 * Worker task: score one FCN tile with onnxruntime (one single-threaded session per worker; parallelism
 * comes from running several workers). Slides and sessions stay open between tasks.
 */
import { readFileSync } from 'node:fs';
import { Piscina } from 'piscina';
import type { FcnTile, ReadScale } from '../pipeline/models/fcn-plan.ts';
import { type InferenceEngine, scoreTile } from '../pipeline/models/fcn-tile.ts';
import type { Normalisation } from '../pipeline/models/normalise.ts';
import { createOnnxRunner } from '../pipeline/models/onnx-runner.ts';
import { createOpenSlideCache } from '../pipeline/slide/index.ts';
import type { StainPair } from '../pipeline/stain/apply.ts';

export interface InferTilePayload {
  slidePath: string;
  /** Level-0 µm/px for slides that do not record it (a slide's own value wins). */
  assumeMpp?: number;
  onnxPath: string;
  threads: number;
  normalisation: Normalisation;
  scale: ReadScale;
  tile: FcnTile;
  stain?: StainPair;
}

const slides = createOpenSlideCache(2);
const engines = new Map<string, Promise<InferenceEngine>>();

function engineFor(onnxPath: string, threads: number): Promise<InferenceEngine> {
  const key = `${onnxPath}\0${threads}`;
  let e = engines.get(key);
  if (!e) {
    e = createOnnxRunner(readFileSync(onnxPath), { threads }).then((r) => ({
      name: `onnx-${r.provider}`,
      inputLayout: r.inputLayout,
      run: r.run,
      close: r.close,
    }));
    engines.set(key, e);
  }
  return e;
}

export async function run(p: InferTilePayload): Promise<unknown> {
  const [slide, engine] = await Promise.all([
    slides.get(p.slidePath, p.assumeMpp ? { fallbackMpp: p.assumeMpp } : undefined),
    engineFor(p.onnxPath, p.threads),
  ]);
  const scores = await scoreTile(slide, engine, p.normalisation, p.scale, p.tile, p.stain);
  return Piscina.move(new Float32Array(scores)); // a fresh buffer: the runtime's may be pooled
}
