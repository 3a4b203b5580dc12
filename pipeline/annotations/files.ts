/** Reading annotation files by extension and finding the file that belongs to a slide in a folder. */
import { existsSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { ConfigError } from '../errors.ts';
import { parseAsapXml } from './asap.ts';
import { parseGeoJson } from './geojson.ts';
import type { Annotation } from './types.ts';

export const ANNOTATION_EXTENSIONS = ['.xml', '.geojson', '.json'];

export function readAnnotationFile(path: string): Annotation[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read annotation file ${path}`);
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.xml') return parseAsapXml(text, path);
  if (ext === '.geojson' || ext === '.json') return parseGeoJson(text, path);
  throw new ConfigError(`${path}: unknown annotation format (expected ${ANNOTATION_EXTENSIONS.join(', ')})`);
}

/** `DIR/<slide name without extension>.{xml,geojson,json}` (the CAMELYON layout), or undefined. */
export function findAnnotationFile(dir: string, slidePath: string): string | undefined {
  const stem = basename(slidePath).replace(/\.[^.]+$/, '');
  for (const ext of ANNOTATION_EXTENSIONS) {
    const candidate = join(dir, `${stem}${ext}`);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}
