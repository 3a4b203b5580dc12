/**
 * TILED_SPARSE: each frame's position comes from its Plane Position (Slide) item. Only frames of the
 * chosen focal plane and optical path are placed; tiles no frame covers stay empty (white).
 */
import { SlideFormatError } from '../../../errors.ts';
import type { WsiInstance } from '../instance.ts';
import type { TileMap } from './types.ts';

export interface PlaneChoice {
  opticalPath: string;
  /** Z offset to read; NaN matches frames without one. */
  z: number;
}

function sameZ(a: number, b: number): boolean {
  return (Number.isNaN(a) && Number.isNaN(b)) || Math.abs(a - b) < 1e-9;
}

export function placeTiledSparse(
  map: TileMap,
  inst: WsiInstance,
  instanceIndex: number,
  plane: PlaneChoice,
): void {
  const p = inst.positions;
  if (!p) return;
  for (let k = 0; k < inst.frames; k++) {
    if (p.opticalPath[k] !== plane.opticalPath || !sameZ(p.z[k], plane.z)) continue;
    const col = p.x[k] / inst.tileWidth;
    const row = p.y[k] / inst.tileHeight;
    if (!Number.isInteger(col) || !Number.isInteger(row)) {
      throw new SlideFormatError(
        `${inst.where}: frame ${k + 1} at pixel ${p.x[k] + 1},${p.y[k] + 1} is not on the ${inst.tileWidth}×${inst.tileHeight} tile grid`,
      );
    }
    if (col < 0 || row < 0 || col >= map.cols || row >= map.rows) {
      throw new SlideFormatError(`${inst.where}: frame ${k + 1} lies outside the image`);
    }
    const t = row * map.cols + col;
    if (map.instance[t] >= 0) continue;
    map.instance[t] = instanceIndex;
    map.frame[t] = k;
  }
}
