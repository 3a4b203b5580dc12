/**
 * Reads the tumour polygons of a CAMELYON16 ASAP XML file. Groups `_0`, `_1` and `Tumor` are tumour;
 * `_2` (and `Exclusion`) mark non-tumour areas drawn inside tumour, cleared from the mask.
 */
import { readFileSync } from 'node:fs';
import { XMLParser } from 'fast-xml-parser';
import { ConfigError } from '../errors.ts';
import type { Polygon } from './mask.ts';

export interface TruthPolygons {
  tumour: Polygon[];
  exclusion: Polygon[];
}

const TUMOUR_GROUPS = new Set(['_0', '_1', 'tumor', 'tumour', 'metastases']);
const EXCLUSION_GROUPS = new Set(['_2', 'exclusion', 'none']);

type XmlNode = Record<string, unknown>;

function asArray(v: unknown): XmlNode[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]) as XmlNode[];
}

export function parseAsapTruth(xml: string, source = 'XML'): TruthPolygons {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@' });
  let doc: XmlNode;
  try {
    doc = parser.parse(xml, true) as XmlNode;
  } catch (err) {
    throw new ConfigError(
      `${source}: not valid XML (${err instanceof Error ? err.message.split('\n')[0] : err})`,
    );
  }
  const root = doc.ASAP_Annotations as XmlNode | undefined;
  if (!root || typeof root !== 'object')
    throw new ConfigError(`${source}: not an ASAP annotation file (no <ASAP_Annotations>)`);
  const out: TruthPolygons = { tumour: [], exclusion: [] };
  const annotations = asArray((root.Annotations as XmlNode | undefined)?.Annotation);
  for (const a of annotations) {
    const group = String(a['@PartOfGroup'] ?? '').toLowerCase();
    const coords = asArray((a.Coordinates as XmlNode | undefined)?.Coordinate)
      .map((c) => ({ order: Number(c['@Order'] ?? 0), x: Number(c['@X']), y: Number(c['@Y']) }))
      .sort((p, q) => p.order - q.order);
    if (coords.some((c) => !Number.isFinite(c.x) || !Number.isFinite(c.y)))
      throw new ConfigError(`${source}: annotation '${a['@Name']}' has a non-numeric coordinate`);
    const poly: Polygon = coords.map((c) => [c.x, c.y] as const);
    if (EXCLUSION_GROUPS.has(group)) out.exclusion.push(poly);
    else if (TUMOUR_GROUPS.has(group)) out.tumour.push(poly);
  }
  return out;
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
