/** Annotations as the pipeline sees them: one ring (or point list) per annotation, level-0 pixels. */
import type { Ring } from './raster.ts';

export type AnnotationClass = 'tumour' | 'exclusion' | 'other';
export type AnnotationGeometry = 'polygon' | 'point' | 'rectangle';

export interface Annotation {
  /** Unique within its source file. */
  name: string;
  /** ASAP PartOfGroup or QuPath classification name, as written in the file. */
  group: string | null;
  class: AnnotationClass;
  geometry: AnnotationGeometry;
  /** Vertices exactly as imported (not closed: the first vertex is not repeated at the end). */
  coords: Ring;
}

const TUMOUR = new Set(['_0', '_1', 'tumor', 'tumour', 'metastasis', 'metastases', 'carcinoma']);
const EXCLUSION = new Set(['_2', 'exclusion', 'excluded', 'ignore', 'ignore*']);

/** CAMELYON and QuPath naming: groups `_0`/`_1`/Tumor are tumour, `_2`/Exclusion are exclusion. */
export function classOf(...names: Array<string | null | undefined>): AnnotationClass {
  for (const n of names) {
    const key = (n ?? '').trim().toLowerCase();
    if (TUMOUR.has(key)) return 'tumour';
    if (EXCLUSION.has(key)) return 'exclusion';
  }
  return 'other';
}

/** Makes names unique within one file ("Annotation 3", "Annotation 3 (2)") so rows keep one key each. */
export function uniqueNames(list: Annotation[]): Annotation[] {
  const seen = new Map<string, number>();
  return list.map((a) => {
    const n = (seen.get(a.name) ?? 0) + 1;
    seen.set(a.name, n);
    return n === 1 ? a : { ...a, name: `${a.name} (${n})` };
  });
}
