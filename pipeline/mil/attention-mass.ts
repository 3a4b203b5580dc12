/**
 * How much of a slide's attention falls on annotated tumour: the summed attention of patches whose
 * centre lies inside a tumour polygon (and outside every exclusion polygon), against the share of the
 * slide's patches (tissue) that lie there. A model that looks at tumour has mass ≫ share.
 */
import type { Polygon } from '../eval/mask.ts';

export interface AttentionMass {
  /** Σ attention over patches inside tumour (attention sums to 1 over the slide). */
  mass: number;
  /** Fraction of the slide's patches inside tumour. */
  share: number;
  patches: number;
  inside: number;
}

/** Even-odd ray casting; points exactly on an edge may fall either way. */
export function pointInPolygon(x: number, y: number, poly: Polygon): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function bbox(poly: Polygon): [number, number, number, number] {
  let x0 = Number.POSITIVE_INFINITY;
  let y0 = Number.POSITIVE_INFINITY;
  let x1 = Number.NEGATIVE_INFINITY;
  let y1 = Number.NEGATIVE_INFINITY;
  for (const [x, y] of poly) {
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x);
    y1 = Math.max(y1, y);
  }
  return [x0, y0, x1, y1];
}

export function attentionMassInTumour(
  patches: readonly { x: number; y: number; width: number; height: number }[],
  attention: ArrayLike<number>,
  truth: { tumour: readonly Polygon[]; exclusion: readonly Polygon[] },
): AttentionMass {
  const tumour = truth.tumour.map((p) => ({ p, b: bbox(p) }));
  const exclusion = truth.exclusion.map((p) => ({ p, b: bbox(p) }));
  const hit = (list: typeof tumour, x: number, y: number) =>
    list.some(({ p, b }) => x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3] && pointInPolygon(x, y, p));
  let mass = 0;
  let inside = 0;
  patches.forEach((q, i) => {
    const cx = q.x + q.width / 2;
    const cy = q.y + q.height / 2;
    if (hit(tumour, cx, cy) && !hit(exclusion, cx, cy)) {
      mass += attention[i];
      inside++;
    }
  });
  return { mass, share: patches.length ? inside / patches.length : 0, patches: patches.length, inside };
}
