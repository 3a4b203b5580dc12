/**
 * Polygon rasterisation (even-odd rule, scanline at pixel centres) and point-in-polygon, at any downsample.
 * Coordinates are level-0 pixels; a raster pixel (i, j) covers level-0
 * [x + i·downsample, x + (i+1)·downsample) and is inside when its centre is.
 */

export type Point = [number, number];
export type Ring = Point[];

export interface RasterGrid {
  /** Level-0 position of the raster's top-left corner (default 0, 0). */
  x?: number;
  y?: number;
  width: number;
  height: number;
  /** Level-0 pixels per raster pixel. */
  downsample: number;
}

interface Edge {
  yMin: number;
  yMax: number;
  xAtYMin: number;
  slope: number; // dx/dy
}

function edgesOf(rings: readonly Ring[]): Edge[] {
  const edges: Edge[] = [];
  for (const ring of rings) {
    const n = ring.length;
    for (let i = 0; i < n; i++) {
      const [x0, y0] = ring[i];
      const [x1, y1] = ring[(i + 1) % n];
      if (y0 === y1) continue; // horizontal edges never cross a scanline under the half-open rule
      const up = y0 < y1;
      edges.push({
        yMin: up ? y0 : y1,
        yMax: up ? y1 : y0,
        xAtYMin: up ? x0 : x1,
        slope: (x1 - x0) / (y1 - y0),
      });
    }
  }
  return edges.sort((a, b) => a.yMin - b.yMin);
}

/**
 * Fills `rings` together with the even-odd rule into `out` (ORed in, so several polygons can share a raster);
 * returns `out`. A scanline at yc crosses an edge when yMin <= yc < yMax, so shared vertices count once.
 */
export function rasterizeRings(rings: readonly Ring[], grid: RasterGrid, out?: Uint8Array): Uint8Array {
  const { width, height, downsample: ds } = grid;
  const ox = grid.x ?? 0;
  const oy = grid.y ?? 0;
  const target = out ?? new Uint8Array(width * height);
  const edges = edgesOf(rings);
  let next = 0;
  let active: Edge[] = [];
  const xs: number[] = [];
  for (let j = 0; j < height; j++) {
    const yc = oy + (j + 0.5) * ds;
    while (next < edges.length && edges[next].yMin <= yc) active.push(edges[next++]);
    active = active.filter((e) => e.yMax > yc);
    if (active.length === 0) {
      if (next >= edges.length) break;
      continue;
    }
    xs.length = 0;
    for (const e of active) if (e.yMin <= yc) xs.push(e.xAtYMin + (yc - e.yMin) * e.slope);
    xs.sort((a, b) => a - b);
    const row = j * width;
    for (let k = 0; k + 1 < xs.length; k += 2) {
      // Pixels whose centre x + (i + 0.5)·ds lies in [xs[k], xs[k+1]).
      const i0 = Math.max(0, Math.ceil((xs[k] - ox) / ds - 0.5));
      const i1 = Math.min(width, Math.ceil((xs[k + 1] - ox) / ds - 0.5));
      if (i1 > i0) target.fill(1, row + i0, row + i1);
    }
  }
  return target;
}

/** Even-odd point-in-polygon over a set of rings (holes are rings too). Same half-open rule as rasterisation. */
export function pointInRings(x: number, y: number, rings: readonly Ring[]): boolean {
  let inside = false;
  for (const ring of rings) {
    const n = ring.length;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if (yi <= y !== yj <= y) {
        const xCross = xi + ((y - yi) * (xj - xi)) / (yj - yi);
        if (x >= xCross) inside = !inside;
      }
    }
  }
  return inside;
}

export interface BBox {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export function boundsOf(rings: readonly Ring[]): BBox {
  let minX = Number.POSITIVE_INFINITY;
  let minY = Number.POSITIVE_INFINITY;
  let maxX = Number.NEGATIVE_INFINITY;
  let maxY = Number.NEGATIVE_INFINITY;
  for (const ring of rings) {
    for (const [x, y] of ring) {
      if (x < minX) minX = x;
      if (y < minY) minY = y;
      if (x > maxX) maxX = x;
      if (y > maxY) maxY = y;
    }
  }
  return { minX, minY, maxX, maxY };
}
