/**
 * Known-pattern pixels for synthetic slide tests: a pattern function of level-0 coordinates, a
 * tile callback for fixtures/tiff-writer.ts, and an independent reference pyramid (2×2 mean of the
 * valid pixels, computed on whole small images) to check reduced levels exactly.
 */
import type { TileRect } from '../../fixtures/tiff-writer.ts';

export type Pattern = (x: number, y: number) => [number, number, number];

/** High-frequency, position-coded colours: a misplaced pixel or swapped channel cannot go unnoticed. */
export const codedPattern: Pattern = (x, y) => [
  (x * 3 + y) & 255,
  (x ^ (y * 7)) & 255,
  (y * 5 + (x >> 4)) & 255,
];

export function patternTile(pattern: Pattern) {
  return (_col: number, _row: number, r: TileRect): Uint8Array => {
    const t = new Uint8Array(r.tileSize * r.tileSize * 3);
    for (let y = 0; y < r.tileSize; y++) {
      for (let x = 0; x < r.tileSize; x++) t.set(pattern(r.x + x, r.y + y), (y * r.tileSize + x) * 3);
    }
    return t;
  };
}

export interface Raster {
  data: Uint8Array;
  width: number;
  height: number;
}

export function renderPattern(pattern: Pattern, width: number, height: number): Raster {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set(pattern(x, y), (y * width + x) * 3);
  return { data, width, height };
}

/** Halves a raster: each output pixel is the rounded mean of the (up to four) input pixels it covers. */
export function halve(src: Raster): Raster {
  const width = Math.ceil(src.width / 2);
  const height = Math.ceil(src.height / 2);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        let n = 0;
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const sx = 2 * x + dx;
            const sy = 2 * y + dy;
            if (sx < src.width && sy < src.height) {
              sum += src.data[(sy * src.width + sx) * 3 + c];
              n++;
            }
          }
        }
        data[(y * width + x) * 3 + c] = Math.round(sum / n);
      }
    }
  }
  return { data, width, height };
}

export function referencePyramid(pattern: Pattern, width: number, height: number, levels: number): Raster[] {
  const out = [renderPattern(pattern, width, height)];
  while (out.length < levels) out.push(halve(out[out.length - 1]));
  return out;
}

/** Number of samples that differ, and the mean absolute difference per sample. */
export function compare(a: Uint8Array, b: Uint8Array): { differing: number; mad: number; max: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let differing = 0;
  let sum = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d) differing++;
    sum += d;
    if (d > max) max = d;
  }
  return { differing, mad: sum / a.length, max };
}
