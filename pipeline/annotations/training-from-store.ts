/**
 * Annotations drawn in the viewer as training truth (`wsi train --annotations-from-db`), next to the ASAP /
 * GeoJSON files: 'tumour' areas are tumour; 'normal' areas are non-tumour even inside a file's tumour
 * outline (they join the exclusion polygons, which the labeller clears from tumour, so a marked false
 * positive trains as normal); 'exclude' areas drop their patches from training; points and other labels
 * are kept in the store but do not change labels.
 */
import { createHash } from 'node:crypto';
import type { TruthPolygons } from '../eval/asap.ts';
import { loadAnnotations } from '../store/annotations-queries.ts';
import type { Store } from '../store/db.ts';
import { VIEWER_SOURCE } from './drawn.ts';
import type { Ring } from './raster.ts';

export interface DrawnTruth {
  tumour: Ring[];
  normal: Ring[];
  /** Areas whose patches are left out of training. */
  ignore: Ring[];
  /** Digest of the drawings used (so a run trained on other drawings is another run). */
  digest: string;
}

export function drawnTrainingTruth(store: Store, slideId: string): DrawnTruth {
  const out: DrawnTruth = { tumour: [], normal: [], ignore: [], digest: '' };
  const hash = createHash('sha256');
  for (const a of loadAnnotations(store, slideId, { source: VIEWER_SOURCE })) {
    if (a.geometry === 'point' || a.coords.length < 3) continue;
    const label = (a.group ?? '').toLowerCase();
    const list =
      label === 'tumour' || label === 'tumor'
        ? out.tumour
        : label === 'normal'
          ? out.normal
          : label === 'exclude' || label === 'exclusion'
            ? out.ignore
            : undefined;
    if (!list) continue;
    list.push(a.coords);
    hash.update(`${label}:${JSON.stringify(a.coords)};`);
  }
  out.digest = hash.digest('hex').slice(0, 16);
  return out;
}

/** A slide's file truth (null = no file) with its drawings added. */
export function mergeDrawnTruth(
  truth: TruthPolygons | null,
  drawn: DrawnTruth,
): { truth: TruthPolygons | null; ignore: Ring[] } {
  if (!drawn.tumour.length && !drawn.normal.length) return { truth, ignore: drawn.ignore };
  return {
    truth: {
      tumour: [...(truth?.tumour ?? []), ...drawn.tumour],
      exclusion: [...(truth?.exclusion ?? []), ...drawn.normal],
    },
    ignore: drawn.ignore,
  };
}
