/** Per-object measurements of a label image and size filtering with consecutive relabelling. */
import type { Cell } from './types.ts';

export interface SizeFilter {
  /** Smallest kept area in pixels (inclusive). */
  minArea?: number;
  /** Largest kept area in pixels (inclusive). */
  maxArea?: number;
}

export interface Objects {
  labels: Int32Array;
  cells: Cell[];
}

/** Drops objects outside the size range (their pixels become 0), renumbers the rest 1..n, measures centroids and areas. */
export function measureObjects(labels: Int32Array, width: number, filter: SizeFilter = {}): Objects {
  let maxLabel = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i] > maxLabel) maxLabel = labels[i];
  const area = new Float64Array(maxLabel + 1);
  const sx = new Float64Array(maxLabel + 1);
  const sy = new Float64Array(maxLabel + 1);
  // Row by row: no division per pixel to recover (x, y).
  const height = labels.length / width;
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i++) {
      const l = labels[i];
      if (l === 0) continue;
      area[l]++;
      sx[l] += x;
      sy[l] += y;
    }
  }
  const minArea = filter.minArea ?? 1;
  const maxArea = filter.maxArea ?? Number.POSITIVE_INFINITY;
  const remap = new Int32Array(maxLabel + 1);
  const cells: Cell[] = [];
  for (let l = 1; l <= maxLabel; l++) {
    if (area[l] === 0 || area[l] < minArea || area[l] > maxArea) continue;
    cells.push({ x: sx[l] / area[l], y: sy[l] / area[l], area: area[l] });
    remap[l] = cells.length;
  }
  const out = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = remap[labels[i]];
  return { labels: out, cells };
}
