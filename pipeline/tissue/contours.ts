/**
 * Outlines of a 0/1 mask along pixel edges ("crack following"). Each boundary edge is walked with the
 * foreground on its right, so outer boundaries come out clockwise on screen (positive shoelace area with
 * y down) and holes anticlockwise. At a diagonal touch the walk turns left, joining diagonal neighbours
 * into one outline (8-connected foreground, like `components`). Only corners are kept, so filling all rings
 * with the even-odd rule gives the mask back exactly.
 */
import { components } from './morphology.ts';
import type { Ring, TissueRegion } from './types.ts';

// Directions: 0 right (+x), 1 down (+y), 2 left (−x), 3 up (−y).
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

export function signedArea(ring: Ring): number {
  let s = 0;
  for (let i = 0; i < ring.length; i++) {
    const [x0, y0] = ring[i];
    const [x1, y1] = ring[(i + 1) % ring.length];
    s += x0 * y1 - x1 * y0;
  }
  return s / 2;
}

/** Rings in mask-pixel corner coordinates, grouped per 8-connected piece. */
export function traceRegions(mask: Uint8Array, width: number, height: number): TissueRegion[] {
  const vw = width + 1;
  const out = new Uint8Array(vw * (height + 1)); // bit d set: an unwalked edge leaves this vertex in direction d
  const at = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] === 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      if (!at(x, y - 1)) out[y * vw + x] |= 1 << 0;
      if (!at(x + 1, y)) out[y * vw + x + 1] |= 1 << 1;
      if (!at(x, y + 1)) out[(y + 1) * vw + x + 1] |= 1 << 2;
      if (!at(x - 1, y)) out[(y + 1) * vw + x] |= 1 << 3;
    }
  }
  // The foreground pixel on the right of an edge leaving vertex (vx, vy) in direction d.
  const rightPixel = (vx: number, vy: number, d: number): number => {
    if (d === 0) return vy * width + vx;
    if (d === 1) return vy * width + vx - 1;
    if (d === 2) return (vy - 1) * width + vx - 1;
    return (vy - 1) * width + vx;
  };
  const rings: Array<{ ring: Ring; pixel: number }> = [];
  // Raster order: the first vertex met of an unwalked ring is its top-left corner, never a diagonal touch.
  for (let v = 0; v < out.length; v++) {
    while (out[v]) {
      const d0 = 31 - Math.clz32(out[v] & -out[v]); // lowest set bit
      const sx = v % vw;
      const sy = (v - sx) / vw;
      const pixel = rightPixel(sx, sy, d0);
      const ring: Ring = [[sx, sy]];
      out[v] &= ~(1 << d0);
      let x = sx + DX[d0];
      let y = sy + DY[d0];
      let prev = d0;
      for (;;) {
        const here = y * vw + x;
        const bits = here === v ? out[here] | (1 << d0) : out[here];
        const left = (prev + 3) & 3;
        const d = bits & (1 << left) ? left : bits & (1 << prev) ? prev : (prev + 1) & 3;
        if (here === v && d === d0) break;
        if (d !== prev) ring.push([x, y]);
        out[here] &= ~(1 << d);
        x += DX[d];
        y += DY[d];
        prev = d;
      }
      if (prev === d0) ring.shift(); // the start was mid-edge, not a corner
      rings.push({ ring, pixel });
    }
  }
  // Group: one outer ring per piece, holes attached through the foreground pixel they border.
  const pieceOf = components(mask, width, height, 1).labels;
  const byPiece = new Map<number, TissueRegion>();
  const holes: Array<{ ring: Ring; piece: number }> = [];
  for (const { ring, pixel } of rings) {
    const piece = pieceOf[pixel];
    if (signedArea(ring) > 0) byPiece.set(piece, { outer: ring, holes: [] });
    else holes.push({ ring, piece });
  }
  for (const h of holes) byPiece.get(h.piece)?.holes.push(h.ring);
  return [...byPiece.values()];
}

/** Scales mask-corner rings to level-0 pixels. */
export function scaleRing(ring: Ring, sx: number, sy: number): Ring {
  return ring.map(([x, y]) => [x * sx, y * sy]);
}
