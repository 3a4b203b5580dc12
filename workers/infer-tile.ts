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
import { openSlide } from '../pipeline/slide/index.ts';
import type { Slide } from '../pipeline/slide/types.ts';

export interface InferTilePayload {
  slidePath: string;
  /** Level-0 µm/px override for slides that do not record it. */
  assumeMpp?: number;
  onnxPath: string;
  threads: number;
  normalisation: Normalisation;
  scale: ReadScale;
  tile: FcnTile;
}

const MAX_OPEN_SLIDES = 2;
const slides = new Map<string, Promise<Slide>>();
const engines = new Map<string, Promise<InferenceEngine>>();

function slideFor(path: string, assumeMpp: number | undefined): Promise<Slide> {
  const key = `${path}\0${assumeMpp ?? ''}`;
  let s = slides.get(key);
  if (!s) {
    if (slides.size >= MAX_OPEN_SLIDES) {
      const [oldKey, old] = slides.entries().next().value as [string, Promise<Slide>];
      slides.delete(oldKey);
      void old.then((o) => o.close()).catch(() => {});
    }
    s = openSlide(path, assumeMpp ? { mpp: assumeMpp } : undefined);
    slides.set(key, s);
  }
  return s;
}

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
    slideFor(p.slidePath, p.assumeMpp),
    engineFor(p.onnxPath, p.threads),
  ]);
  const scores = await scoreTile(slide, engine, p.normalisation, p.scale, p.tile);
  return Piscina.move(new Float32Array(scores)); // a fresh buffer: the runtime's may be pooled
}
