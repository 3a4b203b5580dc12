/**
 * TILED_FULL: frames are in row-major tile order, then focal plane, then optical path, numbered
 * across a concatenation from each part's Concatenation Frame Offset Number. The first plane is
 * frames 0 … cols × rows − 1.
 */
import type { WsiInstance } from '../instance.ts';
import type { TileMap } from './types.ts';

export function placeTiledFull(map: TileMap, inst: WsiInstance, instanceIndex: number): void {
  const tiles = map.cols * map.rows;
  for (let k = 0; k < inst.frames; k++) {
    const g = inst.frameOffset + k;
    if (g >= tiles) break; // later focal planes / optical paths
    if (map.instance[g] >= 0) continue;
    map.instance[g] = instanceIndex;
    map.frame[g] = k;
  }
}
