/**
 * ASAP XML (CAMELYON16/17): ASAP_Annotations/Annotations/Annotation[@Name, @Type, @PartOfGroup]/
 * Coordinates/Coordinate[@Order, @X, @Y]. Polygons and splines become polygons (spline control points
 * kept as vertices), rectangles stay rectangles, dots and point sets become points.
 */
import { XMLParser } from 'fast-xml-parser';
import { ConfigError } from '../errors.ts';
import type { Ring } from './raster.ts';
import { type Annotation, type AnnotationGeometry, classOf, uniqueNames } from './types.ts';

type XmlNode = Record<string, unknown>;

function asArray(v: unknown): XmlNode[] {
  if (v === undefined || v === null || v === '') return [];
  return (Array.isArray(v) ? v : [v]) as XmlNode[];
}

/** Numbers as ASAP writes them: plain, exponent ("1.2e+004") or with a decimal comma from some locales. */
function coordinate(raw: unknown): number {
  return Number(
    String(raw ?? '')
      .trim()
      .replace(',', '.'),
  );
}

function geometryOf(type: string): AnnotationGeometry {
  const t = type.toLowerCase();
  if (t === 'dot' || t === 'pointset') return 'point';
  if (t === 'rectangle') return 'rectangle';
  return 'polygon';
}

export function parseAsapXml(text: string, source = 'ASAP XML'): Annotation[] {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    parseAttributeValue: false,
  });
  let doc: XmlNode;
  try {
    doc = parser.parse(text, true) as XmlNode;
  } catch (err) {
    throw new ConfigError(
      `${source}: not valid XML (${err instanceof Error ? err.message.split('\n')[0] : err})`,
    );
  }
  const root = doc.ASAP_Annotations as XmlNode | undefined;
  if (!root || typeof root !== 'object')
    throw new ConfigError(`${source}: not an ASAP file (no <ASAP_Annotations>)`);
  const out: Annotation[] = [];
  asArray((root.Annotations as XmlNode | undefined)?.Annotation).forEach((a, i) => {
    const name = String(a['@Name'] ?? `Annotation ${i}`);
    const coords = asArray((a.Coordinates as XmlNode | undefined)?.Coordinate)
      .map((c, k) => ({
        order: c['@Order'] === undefined ? k : Number(c['@Order']),
        x: coordinate(c['@X']),
        y: coordinate(c['@Y']),
      }))
      .sort((p, q) => p.order - q.order);
    const bad = coords.find((c) => !Number.isFinite(c.x) || !Number.isFinite(c.y));
    if (bad) throw new ConfigError(`${source}: annotation '${name}' has a non-numeric coordinate`);
    if (coords.length === 0) return; // ASAP writes empty annotations when a drawing is cancelled
    const geometry = geometryOf(String(a['@Type'] ?? 'Polygon'));
    if (geometry !== 'point' && coords.length < 3) {
      throw new ConfigError(`${source}: polygon '${name}' has ${coords.length} vertices (needs at least 3)`);
    }
    const group = a['@PartOfGroup'] === undefined ? null : String(a['@PartOfGroup']);
    const ring: Ring = coords.map((c) => [c.x, c.y]);
    out.push({ name, group, class: classOf(group === 'None' ? null : group, name), geometry, coords: ring });
  });
  return uniqueNames(out);
}

/** Writes annotations as ASAP XML (groups kept; CAMELYON group names for tumour and exclusion). */
export function toAsapXml(annotations: readonly Annotation[]): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  const lines = ['<?xml version="1.0"?>', '<ASAP_Annotations>', '\t<Annotations>'];
  const groups = new Set<string>();
  for (const a of annotations) {
    const group = a.group ?? (a.class === 'tumour' ? '_0' : a.class === 'exclusion' ? '_2' : 'None');
    groups.add(group);
    const type =
      a.geometry === 'point'
        ? a.coords.length === 1
          ? 'Dot'
          : 'PointSet'
        : a.geometry === 'rectangle'
          ? 'Rectangle'
          : 'Polygon';
    lines.push(
      `\t\t<Annotation Name="${esc(a.name)}" Type="${type}" PartOfGroup="${esc(group)}" Color="#F4FA58">`,
    );
    lines.push('\t\t\t<Coordinates>');
    a.coords.forEach(([x, y], i) => {
      lines.push(`\t\t\t\t<Coordinate Order="${i}" X="${x}" Y="${y}" />`);
    });
    lines.push('\t\t\t</Coordinates>', '\t\t</Annotation>');
  }
  lines.push('\t</Annotations>', '\t<AnnotationGroups>');
  for (const g of groups)
    if (g !== 'None')
      lines.push(`\t\t<Group Name="${esc(g)}" PartOfGroup="None" Color="#64FE2E"><Attributes /></Group>`);
  lines.push('\t</AnnotationGroups>', '</ASAP_Annotations>', '');
  return lines.join('\n');
}
