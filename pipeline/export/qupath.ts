/**
 * QuPath GeoJSON objects (File › Import objects): a FeatureCollection whose features carry
 * `properties.objectType` ('annotation', 'detection' or 'tile'), an optional `classification`
 * `{ name, color: [r, g, b] }` and `measurements` (a flat name → number map QuPath shows in its tables and
 * can colour by). Coordinates are level-0 pixels; polygon rings are closed (first position repeated last).
 */
import type { Ring } from '../annotations/raster.ts';
import type { PolygonWithHoles } from './regions.ts';

export type QuPathObjectType = 'annotation' | 'detection' | 'tile';

export interface QuPathClass {
  name: string;
  color: [number, number, number];
}

export const QUPATH_CLASSES = {
  tumour: { name: 'Tumor', color: [200, 0, 0] },
  tissue: { name: 'Tissue', color: [0, 150, 0] },
  nucleus: { name: 'Nucleus', color: [0, 180, 220] },
  attention: { name: 'Attention', color: [120, 60, 200] },
} satisfies Record<string, QuPathClass>;

type Geometry =
  | { type: 'Point'; coordinates: [number, number] }
  | { type: 'Polygon'; coordinates: [number, number][][] }
  | { type: 'MultiPolygon'; coordinates: [number, number][][][] };

export interface QuPathFeature {
  type: 'Feature';
  id?: string;
  geometry: Geometry;
  properties: {
    objectType: QuPathObjectType;
    name?: string;
    isLocked?: boolean;
    classification?: QuPathClass;
    measurements?: Record<string, number>;
    metadata?: Record<string, string>;
  };
}

export function closedRing(ring: Ring): [number, number][] {
  const out = ring.map(([x, y]) => [x, y] as [number, number]);
  if (out.length > 0) out.push([out[0][0], out[0][1]]);
  return out;
}

export function polygonGeometry(p: PolygonWithHoles): Geometry {
  return { type: 'Polygon', coordinates: [closedRing(p.outer), ...p.holes.map(closedRing)] };
}

/** A square tile (patch) as a polygon. */
export function boxRing(x: number, y: number, width: number, height: number): Ring {
  return [
    [x, y],
    [x + width, y],
    [x + width, y + height],
    [x, y + height],
  ];
}

/** Measurements with non-finite values left out (QuPath reads a missing measurement as NaN). */
export function measurements(values: Record<string, number | null | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(values))
    if (v !== null && v !== undefined && Number.isFinite(v)) out[k] = v;
  return out;
}

export function featureCollection(features: QuPathFeature[]) {
  return { type: 'FeatureCollection' as const, features };
}
