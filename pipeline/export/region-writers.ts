/**
 * Polygons with holes written for QuPath (GeoJSON annotations, holes kept as interior rings) and for ASAP /
 * CAMELYON tools (ASAP XML has no holes: each outline goes in group `_0`, each hole as its own polygon in
 * the exclusion group `_2`, the CAMELYON16 convention our importer and the FROC mask read back).
 */
import { writeFileSync } from 'node:fs';
import { toAsapXml } from '../annotations/asap.ts';
import type { Annotation } from '../annotations/types.ts';
import {
  featureCollection,
  measurements,
  polygonGeometry,
  type QuPathClass,
  type QuPathFeature,
} from './qupath.ts';
import { longestDiameter, type PolygonWithHoles, polygonArea } from './regions.ts';

export interface RegionSet {
  /** Name prefix per polygon, e.g. 'Tumor region'. */
  label: string;
  classification: QuPathClass;
  polygons: PolygonWithHoles[];
  /** Level-0 µm/px for area and diameter measurements, when known. */
  mpp: number | null;
  /** Extra measurements per polygon (same order). */
  extra?: Record<string, number | null>[];
}

export function regionsGeoJson(set: RegionSet) {
  const features: QuPathFeature[] = set.polygons.map((p, i) => ({
    type: 'Feature',
    geometry: polygonGeometry(p),
    properties: {
      objectType: 'annotation',
      name: `${set.label} ${i + 1}`,
      isLocked: false,
      classification: set.classification,
      measurements: measurements({
        'Area px^2': polygonArea(p),
        'Area µm^2': set.mpp ? polygonArea(p) * set.mpp * set.mpp : null,
        'Longest diameter µm': set.mpp ? longestDiameter(p) * set.mpp : null,
        ...set.extra?.[i],
      }),
    },
  }));
  return featureCollection(features);
}

export function regionsAsAnnotations(set: RegionSet, tumour: boolean): Annotation[] {
  return set.polygons.flatMap((p, i) => [
    {
      name: `${set.label} ${i + 1}`,
      group: tumour ? null : set.classification.name,
      class: tumour ? ('tumour' as const) : ('other' as const),
      geometry: 'polygon' as const,
      coords: p.outer,
    },
    ...p.holes.map((h, k) => ({
      name: `${set.label} ${i + 1} hole ${k + 1}`,
      group: null,
      class: 'exclusion' as const,
      geometry: 'polygon' as const,
      coords: h,
    })),
  ]);
}

export function writeRegions(set: RegionSet, base: string, tumour: boolean): string[] {
  writeFileSync(`${base}.geojson`, `${JSON.stringify(regionsGeoJson(set))}\n`);
  writeFileSync(`${base}.xml`, toAsapXml(regionsAsAnnotations(set, tumour)));
  return [`${base}.geojson`, `${base}.xml`];
}
