/** One slide tile (with a margin) → the nuclei whose centroid lies in the tile's core, in level-0 pixels. */
import type { Slide } from '../slide/types.ts';
import {
  BRIGHTFIELD_MPP,
  countWatershed,
  DEFAULT_WATERSHED,
  presetFor,
  scaleSpatial,
  type WatershedPreset,
} from './watershed-counter.ts';

export interface TileCountTask {
  path: string;
  /** Level-0 rectangle this tile is responsible for. */
  core: { x: number; y: number; width: number; height: number };
  /** Extra level-0 pixels read on each side. */
  margin: number;
  preset: WatershedPreset;
}

export interface TileCountResult {
  xs: Float32Array;
  ys: Float32Array;
  areas: Float32Array;
}

export async function countTile(slide: Slide, t: TileCountTask): Promise<TileCountResult> {
  const x0 = Math.max(0, t.core.x - t.margin);
  const y0 = Math.max(0, t.core.y - t.margin);
  const x1 = Math.min(slide.width, t.core.x + t.core.width + t.margin);
  const y1 = Math.min(slide.height, t.core.y + t.core.height + t.margin);
  const img = await slide.readRegion({ x: x0, y: y0, width: x1 - x0, height: y1 - y0, level: 0 });
  // Presets are tuned at 0.25 µm/px; rescale their lengths to this slide's resolution when it is known.
  const factor = slide.mpp ? BRIGHTFIELD_MPP / ((slide.mpp.x + slide.mpp.y) / 2) : 1;
  const options = scaleSpatial({ ...DEFAULT_WATERSHED, ...presetFor(img, t.preset) }, factor);
  const r = countWatershed(img, options, t.preset);
  const keep = r.cells
    .map((c) => ({ x: c.x + x0, y: c.y + y0, area: c.area ?? 0 }))
    .filter(
      (c) =>
        c.x >= t.core.x && c.x < t.core.x + t.core.width && c.y >= t.core.y && c.y < t.core.y + t.core.height,
    );
  return {
    xs: Float32Array.from(keep, (c) => c.x),
    ys: Float32Array.from(keep, (c) => c.y),
    areas: Float32Array.from(keep, (c) => c.area),
  };
}

/** [xs…, ys…, areas…] in one buffer for the trip back from a worker. */
export function packTile(r: TileCountResult): Float32Array {
  const n = r.xs.length;
  const out = new Float32Array(3 * n);
  out.set(r.xs, 0);
  out.set(r.ys, n);
  out.set(r.areas, 2 * n);
  return out;
}

export function unpackTile(b: Float32Array): TileCountResult {
  const n = b.length / 3;
  return { xs: b.subarray(0, n), ys: b.subarray(n, 2 * n), areas: b.subarray(2 * n) };
}
