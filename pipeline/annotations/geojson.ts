/**
 * GeoJSON in and out, as QuPath reads and writes it: a FeatureCollection (or a bare array of features, or one
 * Feature) whose features carry `properties.objectType` ('annotation'), `properties.name` and
 * `properties.classification: { name, color: [r, g, b] }`. Coordinates are level-0 pixels.
 * Polygon holes and MultiPolygon parts become annotations of their own (a hole is an exclusion area), since
 * each stored annotation is one ring.
 */
import { ConfigError } from '../errors.ts';
import type { Ring } from './raster.ts';
import { type Annotation, type AnnotationClass, classOf, uniqueNames } from './types.ts';

type Position = number[];

interface Geometry {
  type: string;
  coordinates?: unknown;
  geometries?: Geometry[];
}

interface Feature {
  type: 'Feature';
  geometry: Geometry | null;
  properties?: Record<string, unknown> | null;
}

const CLASS_STYLE: Record<AnnotationClass, { name: string; color: [number, number, number] }> = {
  tumour: { name: 'Tumor', color: [200, 0, 0] },
  exclusion: { name: 'Ignore*', color: [180, 180, 180] },
  other: { name: 'Other', color: [0, 128, 255] },
};

function toRing(positions: unknown, where: string): Ring {
  if (!Array.isArray(positions)) throw new ConfigError(`${where}: coordinates must be an array`);
  const ring: Ring = positions.map((p: unknown, i) => {
    const pos = p as Position;
    if (!Array.isArray(pos) || pos.length < 2 || !Number.isFinite(pos[0]) || !Number.isFinite(pos[1])) {
      throw new ConfigError(`${where}: position ${i} is not [x, y]`);
    }
    return [pos[0], pos[1]];
  });
  return ring;
}

/** GeoJSON rings repeat the first position at the end; annotations do not. */
function openRing(ring: Ring): Ring {
  const n = ring.length;
  if (n > 1 && ring[0][0] === ring[n - 1][0] && ring[0][1] === ring[n - 1][1]) return ring.slice(0, -1);
  return ring;
}

function closeRing(ring: Ring): Ring {
  return ring.length > 0 ? [...ring, ring[0]] : ring;
}

function featuresOf(doc: unknown, source: string): Feature[] {
  if (Array.isArray(doc)) return doc as Feature[];
  const d = doc as { type?: string; features?: unknown };
  if (d && d.type === 'FeatureCollection') {
    if (!Array.isArray(d.features))
      throw new ConfigError(`${source}: FeatureCollection without a features array`);
    return d.features as Feature[];
  }
  if (d && d.type === 'Feature') return [d as unknown as Feature];
  throw new ConfigError(
    `${source}: not GeoJSON (expected a FeatureCollection, a Feature or an array of features)`,
  );
}

export function parseGeoJson(text: string | unknown, source = 'GeoJSON'): Annotation[] {
  let doc: unknown = text;
  if (typeof text === 'string') {
    try {
      doc = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`${source}: not valid JSON (${(err as Error).message.split('\n')[0]})`);
    }
  }
  const out: Annotation[] = [];
  featuresOf(doc, source).forEach((f, i) => {
    if (!f || f.type !== 'Feature') throw new ConfigError(`${source}: feature ${i} is not a Feature`);
    const props = f.properties ?? {};
    const cls = props.classification as { name?: string } | undefined;
    const meta = (props.metadata ?? {}) as Record<string, unknown>;
    const group = typeof meta.group === 'string' ? meta.group : (cls?.name ?? null);
    const name = typeof props.name === 'string' && props.name !== '' ? props.name : `Annotation ${i}`;
    const klass = classOf(cls?.name, group);
    const where = `${source}: feature ${i} ('${name}')`;
    const add = (n: string, c: AnnotationClass, geometry: Annotation['geometry'], coords: Ring) =>
      out.push({ name: n, group, class: c, geometry, coords });
    const addPolygon = (rings: unknown, prefix: string) => {
      if (!Array.isArray(rings) || rings.length === 0)
        throw new ConfigError(`${where}: polygon without rings`);
      rings.forEach((r, k) => {
        const ring = openRing(toRing(r, where));
        if (ring.length < 3) throw new ConfigError(`${where}: ring ${k} has fewer than 3 vertices`);
        const geometry = meta.geometry === 'rectangle' && k === 0 ? 'rectangle' : 'polygon';
        if (k === 0) add(prefix, klass, geometry, ring);
        else add(`${prefix} hole ${k}`, 'exclusion', 'polygon', ring);
      });
    };
    const g = f.geometry;
    if (!g) return;
    switch (g.type) {
      case 'Polygon':
        addPolygon(g.coordinates, name);
        break;
      case 'MultiPolygon': {
        const parts = g.coordinates;
        if (!Array.isArray(parts)) throw new ConfigError(`${where}: MultiPolygon without coordinates`);
        parts.forEach((p, k) => {
          addPolygon(p, parts.length > 1 ? `${name} part ${k + 1}` : name);
        });
        break;
      }
      case 'Point':
        add(name, klass, 'point', toRing([g.coordinates], where));
        break;
      case 'MultiPoint':
        add(name, klass, 'point', toRing(g.coordinates, where));
        break;
      default:
        throw new ConfigError(`${where}: unsupported geometry type ${g.type}`);
    }
  });
  return uniqueNames(out);
}

export interface GeoJsonOptions {
  /** Extra properties per feature (e.g. the source file). */
  metadata?: Record<string, string>;
}

/** A FeatureCollection QuPath opens (File › Import objects): one annotation feature per annotation. */
export function toGeoJson(annotations: readonly Annotation[], options: GeoJsonOptions = {}) {
  return {
    type: 'FeatureCollection' as const,
    features: annotations.map((a) => {
      const style = CLASS_STYLE[a.class];
      const geometry =
        a.geometry === 'point'
          ? a.coords.length === 1
            ? { type: 'Point' as const, coordinates: a.coords[0] }
            : { type: 'MultiPoint' as const, coordinates: a.coords }
          : { type: 'Polygon' as const, coordinates: [closeRing(a.coords)] };
      return {
        type: 'Feature' as const,
        geometry,
        properties: {
          objectType: 'annotation',
          name: a.name,
          isLocked: false,
          classification: { name: a.class === 'other' && a.group ? a.group : style.name, color: style.color },
          metadata: {
            ...options.metadata,
            ...(a.group ? { group: a.group } : {}),
            ...(a.geometry === 'rectangle' ? { geometry: 'rectangle' } : {}),
          },
        },
      };
    }),
  };
}
