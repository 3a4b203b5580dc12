/**
 * One image → count, mean area and cell centroids, as flat typed arrays (so a worker can transfer them).
 * Shared by the worker task and by in-process callers.
 */
import { ConfigError } from '../errors.ts';
import { countDensity, type DensityModelInfo } from './density-counter.ts';
import { readImage } from './image-io.ts';
import type { CountResult } from './types.ts';
import { countWatershed, type WatershedOptions, type WatershedPreset } from './watershed-counter.ts';

export interface CountImageTask {
  path: string;
  method: 'watershed' | 'density';
  modelDir?: string;
  preset?: WatershedPreset;
  options?: Partial<WatershedOptions>;
}

export interface CellArrays {
  count: number;
  meanArea: number | null;
  width: number;
  height: number;
  xs: Float32Array;
  ys: Float32Array;
  /** NaN where unknown (density peaks). */
  areas: Float32Array;
}

export function toArrays(r: CountResult, width: number, height: number): CellArrays {
  const n = r.cells.length;
  const xs = new Float32Array(n);
  const ys = new Float32Array(n);
  const areas = new Float32Array(n);
  r.cells.forEach((c, i) => {
    xs[i] = c.x;
    ys[i] = c.y;
    areas[i] = c.area ?? Number.NaN;
  });
  return { count: r.count, meanArea: r.meanArea ?? null, width, height, xs, ys, areas };
}

/**
 * One buffer for the trip back from a worker (Piscina transfers a typed array, not an object of them):
 * [count, meanArea (NaN if none), width, height, n, xs…, ys…, areas…].
 */
export function packCellArrays(r: CellArrays): Float64Array {
  const n = r.xs.length;
  const out = new Float64Array(5 + 3 * n);
  out.set([r.count, r.meanArea ?? Number.NaN, r.width, r.height, n]);
  out.set(r.xs, 5);
  out.set(r.ys, 5 + n);
  out.set(r.areas, 5 + 2 * n);
  return out;
}

export function unpackCellArrays(b: Float64Array): CellArrays {
  const n = b[4];
  return {
    count: b[0],
    meanArea: Number.isNaN(b[1]) ? null : b[1],
    width: b[2],
    height: b[3],
    xs: Float32Array.from(b.subarray(5, 5 + n)),
    ys: Float32Array.from(b.subarray(5 + n, 5 + 2 * n)),
    areas: Float32Array.from(b.subarray(5 + 2 * n, 5 + 3 * n)),
  };
}

export async function countImage(
  task: CountImageTask,
  loadModel: (dir: string) => Promise<DensityModelInfo>,
): Promise<CellArrays> {
  const img = await readImage(task.path);
  if (task.method === 'density') {
    if (!task.modelDir) throw new ConfigError('density counting needs a model directory (--model DIR)');
    const model = await loadModel(task.modelDir);
    return toArrays(countDensity(model, img), img.width, img.height);
  }
  const r = countWatershed(img, task.options ?? {}, task.preset ?? 'auto');
  return toArrays(r, img.width, img.height);
}
