/**
 * Annotations drawn in the viewer: the JSON a client sends, checked field by field (a malformed body is a
 * ConfigError naming the field, and nothing is written), and the meaning of their labels for training.
 * Labels: 'tumour', 'normal', 'exclude', or any user-defined name (kept, used for nothing in training).
 */
import { ConfigError } from '../errors.ts';
import type { Ring } from './raster.ts';
import type { AnnotationClass, AnnotationGeometry } from './types.ts';

/** The `source` of every annotation drawn in the viewer. */
export const VIEWER_SOURCE = 'viewer';

export const STANDARD_LABELS = ['tumour', 'normal', 'exclude'] as const;

export interface DrawnAnnotationInput {
  geometry: AnnotationGeometry;
  label: string;
  author: string;
  coords: Ring;
}

const MAX_VERTICES = 10_000;
const LABEL = /^[\p{L}\p{N} _.+-]{1,40}$/u;

/** Store class of a label: tumour and exclude have CAMELYON meanings; everything else is 'other'. */
export function classOfLabel(label: string): AnnotationClass {
  const l = label.toLowerCase();
  if (l === 'tumour' || l === 'tumor') return 'tumour';
  if (l === 'exclude' || l === 'exclusion') return 'exclusion';
  return 'other';
}

/**
 * Parses and checks a drawn annotation: geometry polygon (≥ 3 vertices), rectangle (4 vertices, axis-aligned)
 * or point (1 vertex); finite coordinates inside the slide; a label and an author name.
 */
export function parseDrawnAnnotation(
  body: unknown,
  slide: { width: number; height: number },
): DrawnAnnotationInput {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new ConfigError('body must be a JSON object');
  const b = body as Record<string, unknown>;
  const known = new Set(['geometry', 'label', 'author', 'coords']);
  const extra = Object.keys(b).find((k) => !known.has(k));
  if (extra) throw new ConfigError(`unknown field '${extra}'`);
  const geometry = b.geometry;
  if (geometry !== 'polygon' && geometry !== 'rectangle' && geometry !== 'point')
    throw new ConfigError("'geometry' must be polygon, rectangle or point");
  if (typeof b.label !== 'string' || !LABEL.test(b.label.trim()))
    throw new ConfigError("'label' must be 1-40 letters, digits, spaces or . _ + -");
  if (typeof b.author !== 'string' || b.author.trim().length === 0 || b.author.length > 80)
    throw new ConfigError("'author' must be a name of 1-80 characters");
  if (!Array.isArray(b.coords) || b.coords.length === 0 || b.coords.length > MAX_VERTICES)
    throw new ConfigError(`'coords' must be an array of 1-${MAX_VERTICES} [x, y] pairs`);
  const coords: Ring = b.coords.map((p: unknown, i) => {
    if (!Array.isArray(p) || p.length !== 2 || !p.every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw new ConfigError(`'coords[${i}]' is not [x, y]`);
    const [x, y] = p as [number, number];
    if (x < 0 || y < 0 || x > slide.width || y > slide.height)
      throw new ConfigError(`'coords[${i}]' lies outside the slide`);
    return [Math.round(x * 100) / 100, Math.round(y * 100) / 100];
  });
  if (geometry === 'point' && coords.length !== 1) throw new ConfigError('a point has exactly one vertex');
  if (geometry === 'polygon' && coords.length < 3)
    throw new ConfigError('a polygon needs at least 3 vertices');
  if (geometry === 'rectangle') {
    const xs = new Set(coords.map((c) => c[0]));
    const ys = new Set(coords.map((c) => c[1]));
    if (coords.length !== 4 || xs.size !== 2 || ys.size !== 2)
      throw new ConfigError('a rectangle has 4 axis-aligned vertices of non-zero size');
  }
  return { geometry, label: b.label.trim(), author: b.author.trim(), coords };
}
