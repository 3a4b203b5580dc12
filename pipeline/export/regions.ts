/**
 * A 0/1 grid mask → polygons with holes that are valid simple features (OGC / shapely `is_valid`):
 * outlines come from the tissue module's crack follower (on the complement, see maskPolygons), every ring that passes a vertex twice (two pieces
 * touching at a corner) is split there into simple rings, rings are sorted into shells (clockwise on screen)
 * and holes (anticlockwise), and each hole goes to the smallest shell around it. Coordinates are level-0
 * pixels: grid corner (i, j) is (originX + i·stepX, originY + j·stepY).
 */
import { pointInRings, type Ring } from '../annotations/raster.ts';
import type { CellGrid } from '../patches/lattice.ts';
import { signedArea, traceRegions } from '../tissue/contours.ts';

export interface PolygonWithHoles {
  outer: Ring;
  holes: Ring[];
}

/** The grid a mask is drawn on (one cell per mask pixel). */
export type MaskGrid = CellGrid;

/** Splits a closed ring (first vertex not repeated) at every vertex it visits twice. */
export function splitAtRepeatedVertices(ring: Ring): Ring[] {
  const out: Ring[] = [];
  const path: Ring = [];
  const seen = new Map<string, number>();
  for (const p of [...ring, ring[0]]) {
    const key = `${p[0]},${p[1]}`;
    const at = seen.get(key);
    if (at !== undefined) {
      const loop = path.splice(at);
      for (const q of loop) seen.delete(`${q[0]},${q[1]}`);
      if (loop.length >= 3) out.push(loop);
    }
    seen.set(key, path.length);
    path.push(p);
  }
  return out;
}

/** The pixel centre just to the right of a ring's first edge (the foreground side for crack-traced rings). */
function pixelRightOfFirstEdge(ring: Ring): [number, number] {
  const [x0, y0] = ring[0];
  const [x1, y1] = ring[1];
  const dx = Math.sign(x1 - x0);
  const dy = Math.sign(y1 - y0);
  return [x0 + 0.5 * dx - 0.5 * dy, y0 + 0.5 * dy + 0.5 * dx];
}

/**
 * Polygons of a mask in grid-corner coordinates (unscaled). Foreground is 4-connected (pixels touching only
 * at a corner are separate polygons, since a polygon's interior must be connected), background 8-connected:
 * the tissue tracer joins diagonal neighbours, so it traces the complement (padded with a background frame)
 * and the rings are reversed to put the foreground on their right again.
 */
export function maskPolygons(mask: Uint8Array, columns: number, rows: number): PolygonWithHoles[] {
  const W = columns + 2;
  const H = rows + 2;
  const inverse = new Uint8Array(W * H).fill(1);
  for (let j = 0; j < rows; j++)
    for (let i = 0; i < columns; i++) if (mask[j * columns + i]) inverse[(j + 1) * W + i + 1] = 0;
  const rings = traceRegions(inverse, W, H).flatMap((r) =>
    [r.outer, ...r.holes].flatMap((ring) =>
      splitAtRepeatedVertices(ring.map(([x, y]) => [x - 1, y - 1] as [number, number]).reverse()),
    ),
  );
  const shells = rings
    .filter((r) => signedArea(r) > 0)
    .map((r) => ({ ring: r, area: signedArea(r), holes: [] as Ring[] }))
    .sort((a, b) => a.area - b.area);
  for (const hole of rings.filter((r) => signedArea(r) < 0)) {
    const [px, py] = pixelRightOfFirstEdge(hole);
    const owner = shells.find((s) => pointInRings(px, py, [s.ring]));
    owner?.holes.push(hole);
  }
  // Positive shoelace area is anticlockwise in the coordinate plane, so shells and holes already follow
  // GeoJSON's right-hand rule (RFC 7946 §3.1.6) as traced.
  return shells.sort((a, b) => b.area - a.area).map((s) => ({ outer: s.ring, holes: s.holes }));
}

/** Polygons of a mask in level-0 pixels. */
export function gridPolygons(mask: Uint8Array, grid: MaskGrid): PolygonWithHoles[] {
  const at = ([i, j]: [number, number]): [number, number] => [
    grid.originX + i * grid.stepX,
    grid.originY + j * grid.stepY,
  ];
  return maskPolygons(mask, grid.columns, grid.rows).map((p) => ({
    outer: p.outer.map(at),
    holes: p.holes.map((h) => h.map(at)),
  }));
}

/** Area in level-0 px² (holes subtracted). */
export function polygonArea(p: PolygonWithHoles): number {
  return Math.abs(signedArea(p.outer)) - p.holes.reduce((a, h) => a + Math.abs(signedArea(h)), 0);
}

/** Largest distance between two vertices of the outline (the lesion's longest diameter), level-0 px. */
export function longestDiameter(p: PolygonWithHoles): number {
  let best = 0;
  const v = p.outer;
  for (let i = 0; i < v.length; i++)
    for (let j = i + 1; j < v.length; j++)
      best = Math.max(best, Math.hypot(v[i][0] - v[j][0], v[i][1] - v[j][1]));
  return best;
}
