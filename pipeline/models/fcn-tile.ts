/**
 * Scoring one FCN tile, or single patches, from a slide: read the model pixels, normalise, run an
 * inference engine (onnxruntime, or tfjs as the reference and fallback: tfjs-engine.ts). Used in worker
 * threads (workers/infer-tile.ts) and on the main thread alike; it does not load tfjs itself.
 */
import { ModelError } from '../errors.ts';
import type { RGBImage, Slide } from '../slide/types.ts';
import type { FcnTile, ReadScale } from './fcn-plan.ts';
import { level0Of } from './fcn-plan.ts';
import type { Geometry } from './geometry.ts';
import { type Normalisation, normaliseInto } from './normalise.ts';

/** Anything that maps a float32 image batch to an NHWC score map. */
export interface InferenceEngine {
  readonly name: string;
  /**
   * Layout of the input batch: 'nhwc' (the default, tfjs) or planar 'nchw' (our ONNX export for
   * inference, which then needs no transpose). `run`'s shape is given in this layout.
   */
  readonly inputLayout?: 'nhwc' | 'nchw';
  run(
    data: Float32Array,
    shape: [number, number, number, number],
  ): Promise<{ data: Float32Array; shape: number[] }>;
  close(): Promise<void>;
}

/** Pixels of a model-pixel rectangle, read at the plan's µm/px (a plain crop when snapped to a level). */
export function readModelPixels(
  slide: Slide,
  scale: ReadScale,
  r: { x: number; y: number; width: number; height: number },
): Promise<RGBImage> {
  return slide.readAt({
    x: level0Of(r.x, scale),
    y: level0Of(r.y, scale),
    width: r.width,
    height: r.height,
    mpp: scale.mpp,
  });
}

/**
 * Like normaliseInto (same arithmetic, so the same float32 values) but planar: all R, then all G, then
 * all B, each `width × height`, starting at `offset`. Returns the number of floats written.
 */
export function normalisePlanarInto(
  pixels: Uint8Array,
  channels: number,
  norm: Normalisation,
  out: Float32Array,
  offset = 0,
): number {
  const n = pixels.length / channels;
  for (let c = 0; c < 3; c++) {
    const scale = 1 / (255 * norm.std[c]);
    const shift = norm.mean[c] / norm.std[c];
    const plane = offset + c * n;
    for (let i = 0, p = c; i < n; i++, p += channels) out[plane + i] = pixels[p] * scale - shift;
  }
  return n * 3;
}

/** Normalised pixels of an image in the engine's input layout, written at `offset` (one image's floats). */
function normaliseFor(
  engine: Pick<InferenceEngine, 'inputLayout'>,
  img: RGBImage,
  norm: Normalisation,
  out: Float32Array,
  offset = 0,
): number {
  return engine.inputLayout === 'nchw'
    ? normalisePlanarInto(img.data, img.channels, norm, out, offset)
    : normaliseInto(img.data, img.channels, norm, out, offset);
}

/** Input shape of `n` images of height × width × 3 in the engine's layout. */
function batchShape(
  engine: Pick<InferenceEngine, 'inputLayout'>,
  n: number,
  height: number,
  width: number,
): [number, number, number, number] {
  return engine.inputLayout === 'nchw' ? [n, 3, height, width] : [n, height, width, 3];
}

/**
 * Input buffers kept per engine for the next tile of the same size: a fresh 12 MB Float32Array per 1020²
 * tile cost ~4 ms of zeroing and page faults (2 % of a tile's CPU time). A buffer goes back only once its
 * run has finished, so tiles in flight at once (read of the next overlapping this inference) never share.
 */
const spareInputs = new WeakMap<InferenceEngine, Float32Array[]>();
const MAX_SPARE_INPUTS = 2;

function takeInput(engine: InferenceEngine, length: number): Float32Array {
  const spare = spareInputs.get(engine);
  const i = spare ? spare.findIndex((b) => b.length === length) : -1;
  return spare && i >= 0 ? spare.splice(i, 1)[0] : new Float32Array(length);
}

function giveBackInput(engine: InferenceEngine, buffer: Float32Array): void {
  let spare = spareInputs.get(engine);
  if (!spare) {
    spare = [];
    spareInputs.set(engine, spare);
  }
  if (spare.length >= MAX_SPARE_INPUTS) spare.shift();
  spare.push(buffer);
}

/** Scores of one tile: Float32Array of tile.rows × tile.cols, row-major. */
export async function scoreTile(
  slide: Slide,
  engine: InferenceEngine,
  norm: Normalisation,
  scale: ReadScale,
  tile: FcnTile,
): Promise<Float32Array> {
  const img = await readModelPixels(slide, scale, tile);
  const input = takeInput(engine, tile.width * tile.height * 3);
  normaliseFor(engine, img, norm, input); // writes every element: no need to clear a reused buffer
  let out: { data: Float32Array; shape: number[] };
  try {
    out = await engine.run(input, batchShape(engine, 1, tile.height, tile.width));
  } finally {
    giveBackInput(engine, input);
  }
  if (out.shape[1] !== tile.rows || out.shape[2] !== tile.cols) {
    throw new ModelError(
      `model gave a ${out.shape[1]}×${out.shape[2]} map for a tile planned as ${tile.rows}×${tile.cols}: wrong geometry`,
    );
  }
  return out.data.length === tile.rows * tile.cols ? out.data : out.data.slice(0, tile.rows * tile.cols);
}

/**
 * The reference: each grid point's patch read and scored on its own (batched `batch` at a time).
 * Returns one score per point, in order.
 */
export async function scorePatches(
  slide: Slide,
  engine: InferenceEngine,
  norm: Normalisation,
  scale: ReadScale,
  g: Geometry,
  points: readonly { row: number; col: number }[],
  batch = 16,
): Promise<Float32Array> {
  const rf = g.receptiveField;
  const scores = new Float32Array(points.length);
  for (let start = 0; start < points.length; start += batch) {
    const chunk = points.slice(start, start + batch);
    const input = new Float32Array(chunk.length * rf * rf * 3);
    for (let i = 0; i < chunk.length; i++) {
      const p = chunk[i];
      const img = await readModelPixels(slide, scale, {
        x: p.col * g.stride,
        y: p.row * g.stride,
        width: rf,
        height: rf,
      });
      normaliseFor(engine, img, norm, input, i * rf * rf * 3);
    }
    const out = await engine.run(input, batchShape(engine, chunk.length, rf, rf));
    scores.set(out.data.subarray(0, chunk.length), start);
  }
  return scores;
}
