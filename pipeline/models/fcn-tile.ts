/**
 * Scoring one FCN tile, or single patches, from a slide: read the model pixels, normalise, run an
 * inference engine (onnxruntime, or tfjs as the reference and fallback: tfjs-engine.ts). Used in worker
 * threads (workers/infer-tile.ts) and on the main thread alike; it does not load tfjs itself.
 */
import type { RGBImage, Slide } from '../slide/types.ts';
import type { FcnTile, ReadScale } from './fcn-plan.ts';
import { level0Of } from './fcn-plan.ts';
import type { Geometry } from './geometry.ts';
import { type Normalisation, normaliseInto } from './normalise.ts';

/** Anything that maps an NHWC float32 batch to an NHWC score map. */
export interface InferenceEngine {
  readonly name: string;
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

/** Scores of one tile: Float32Array of tile.rows × tile.cols, row-major. */
export async function scoreTile(
  slide: Slide,
  engine: InferenceEngine,
  norm: Normalisation,
  scale: ReadScale,
  tile: FcnTile,
): Promise<Float32Array> {
  const img = await readModelPixels(slide, scale, tile);
  const input = new Float32Array(tile.width * tile.height * 3);
  normaliseInto(img.data, img.channels, norm, input);
  const out = await engine.run(input, [1, tile.height, tile.width, 3]);
  if (out.shape[1] !== tile.rows || out.shape[2] !== tile.cols) {
    throw new Error(
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
      normaliseInto(img.data, img.channels, norm, input, i * rf * rf * 3);
    }
    const out = await engine.run(input, [chunk.length, rf, rf, 3]);
    scores.set(out.data.subarray(0, chunk.length), start);
  }
  return scores;
}
