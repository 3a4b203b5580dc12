/**
 * Patch labels from annotations, as PatchCamelyon: a patch is tumour (1) when its central region
 * (default 32 × 32 patch pixels) holds at least one tumour pixel that is not inside an exclusion region,
 * normal (0) otherwise. Pixels are sampled at patch-pixel centres with the even-odd rule.
 */
import { boundsOf, rasterizeRings } from '../annotations/raster.ts';
import type { Annotation } from '../annotations/types.ts';
import { ConfigError } from '../errors.ts';
import type { LabelOptions, PatchSpec } from './types.ts';

interface Indexed {
  rings: Annotation['coords'][];
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

function index(annotations: readonly Annotation[], cls: Annotation['class']): Indexed[] {
  return annotations
    .filter((a) => a.class === cls && a.geometry !== 'point' && a.coords.length >= 3)
    .map((a) => ({ rings: [a.coords], ...boundsOf([a.coords]) }));
}

export interface CentreRegion {
  x: number;
  y: number;
  /** Level-0 px per sampled pixel. */
  step: number;
  /** Sampled pixels per side. */
  side: number;
}

/** The centre region of a patch of `size` output pixels, in level-0 coordinates. */
export function centreRegion(p: PatchSpec, size: number, centreSize: number): CentreRegion {
  const side = Math.min(centreSize, size);
  const step = p.width / size;
  return { x: p.x + (p.width - side * step) / 2, y: p.y + (p.height - side * step) / 2, step, side };
}

/** Labels (1 tumour, 0 normal) for `patches` of `size` output pixels; one entry per patch, same order. */
export function labelPatches(
  patches: readonly PatchSpec[],
  size: number,
  annotations: readonly Annotation[],
  options: LabelOptions = {},
): Array<0 | 1> {
  const centreSize = options.centreSize ?? 32;
  if (!Number.isInteger(centreSize) || centreSize < 1)
    throw new ConfigError(`centre size must be a positive integer, got ${centreSize}`);
  const tumour = index(annotations, 'tumour');
  const exclusion = index(annotations, 'exclusion');
  return patches.map((p) => {
    const c = centreRegion(p, size, centreSize);
    const box = { minX: c.x, minY: c.y, maxX: c.x + c.side * c.step, maxY: c.y + c.side * c.step };
    const meets = (a: Indexed) =>
      a.maxX >= box.minX && a.minX <= box.maxX && a.maxY >= box.minY && a.minY <= box.maxY;
    const t = tumour.filter(meets);
    if (t.length === 0) return 0;
    const grid = { x: c.x, y: c.y, width: c.side, height: c.side, downsample: c.step };
    // Each annotation is filled on its own (even-odd within it), so overlapping annotations add up.
    const inTumour = new Uint8Array(c.side * c.side);
    for (const a of t) rasterizeRings(a.rings, grid, inTumour);
    const e = exclusion.filter(meets);
    const inExclusion = new Uint8Array(c.side * c.side);
    for (const a of e) rasterizeRings(a.rings, grid, inExclusion);
    for (let i = 0; i < inTumour.length; i++) if (inTumour[i] && !inExclusion[i]) return 1;
    return 0;
  });
}
