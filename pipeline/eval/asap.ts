/**
 * Tumour and exclusion polygons of a CAMELYON16 ASAP XML file, for the evaluation mask and patch labels.
 * Parsing is pipeline/annotations' parseAsapXml (groups `_0`, `_1`, `Tumor` are tumour; `_2`, `Exclusion`
 * mark non-tumour areas drawn inside tumour, cleared from the mask); points are not areas and are skipped.
 */
import { readFileSync } from 'node:fs';
import { parseAsapXml } from '../annotations/asap.ts';
import type { Annotation } from '../annotations/types.ts';
import { ConfigError } from '../errors.ts';
import type { Polygon } from './mask.ts';

export interface TruthPolygons {
  tumour: Polygon[];
  exclusion: Polygon[];
}

/** Tumour and exclusion areas of any annotation list (ASAP, GeoJSON); points are not areas. */
export function truthOfAnnotations(annotations: readonly Annotation[]): TruthPolygons {
  const out: TruthPolygons = { tumour: [], exclusion: [] };
  for (const a of annotations) {
    if (a.geometry === 'point') continue;
    if (a.class === 'tumour') out.tumour.push(a.coords);
    else if (a.class === 'exclusion') out.exclusion.push(a.coords);
  }
  return out;
}

export function parseAsapTruth(xml: string, source = 'XML'): TruthPolygons {
  return truthOfAnnotations(parseAsapXml(xml, source));
}

export function readAsapTruth(path: string): TruthPolygons {
  let xml: string;
  try {
    xml = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read annotation file ${path}`);
  }
  return parseAsapTruth(xml, path);
}
