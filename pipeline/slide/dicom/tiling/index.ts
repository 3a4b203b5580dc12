/**
 * A level's tile map from its instances (one, or the parts of a concatenation, or one per optical
 * path): reads the first optical path and the first focal plane, lists what else there is.
 */
import { DicomSeriesError } from '../../../errors.ts';
import type { WsiInstance } from '../instance.ts';
import { placeTiledFull } from './tiled-full.ts';
import { type PlaneChoice, placeTiledSparse } from './tiled-sparse.ts';
import { emptyTileMap, type TileMap } from './types.ts';

export type { TileMap } from './types.ts';

export interface LevelPlanes {
  chosen: PlaneChoice;
  opticalPaths: string[];
  focalPlanes: number;
}

/** The optical paths and focal planes of a level's instances, and the one we read (the first). */
export function levelPlanes(instances: readonly WsiInstance[]): LevelPlanes {
  const paths: string[] = [];
  const zs: number[] = [];
  let focalPlanes = 1;
  for (const inst of instances) {
    for (const p of inst.opticalPaths.length ? inst.opticalPaths : [inst.sharedOpticalPath]) {
      if (!paths.includes(p)) paths.push(p);
    }
    focalPlanes = Math.max(focalPlanes, inst.focalPlanes);
    if (inst.positions) {
      for (const z of inst.positions.z) if (!Number.isNaN(z) && !zs.includes(z)) zs.push(z);
    }
  }
  focalPlanes = Math.max(focalPlanes, zs.length);
  const first = instances[0];
  const opticalPath = first.positions?.opticalPath[0] ?? first.sharedOpticalPath;
  const z = first.positions ? first.positions.z[0] : Number.NaN;
  return { chosen: { opticalPath, z }, opticalPaths: paths, focalPlanes };
}

export function buildTileMap(instances: readonly WsiInstance[], planes: LevelPlanes, what: string): TileMap {
  const first = instances[0];
  const map = emptyTileMap(
    Math.ceil(first.width / first.tileWidth),
    Math.ceil(first.height / first.tileHeight),
  );
  let full = false;
  instances.forEach((inst, i) => {
    if (inst.organization === 'TILED_FULL') {
      // One instance per optical path: only those of the chosen path.
      if (
        inst.sharedOpticalPath &&
        planes.chosen.opticalPath &&
        inst.sharedOpticalPath !== planes.chosen.opticalPath &&
        !inst.opticalPaths.includes(planes.chosen.opticalPath)
      )
        return;
      full = true;
      placeTiledFull(map, inst, i);
    } else {
      placeTiledSparse(map, inst, i, planes.chosen);
    }
  });
  if (full) {
    let have = 0;
    for (const v of map.instance) if (v >= 0) have++;
    if (have < map.instance.length) {
      throw new DicomSeriesError(
        `${what}: TILED_FULL level has frames for ${have} of its ${map.instance.length} tiles (a part of a concatenation is missing?)`,
      );
    }
  }
  return map;
}
