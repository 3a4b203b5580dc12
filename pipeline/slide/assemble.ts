/**
 * Region assembly: copy the parts of each tile that fall inside a window (in level pixels) into one
 * RGB buffer with row copies. Tiles are copied as they arrive, so at most the window plus the tiles
 * in flight are held. Everything outside the image is white.
 */
import type { TileGrid } from './level.ts';
import { allocUnzeroed } from './tile-buffers.ts';

export type TileFetcher = (col: number, row: number) => Promise<Uint8Array>;
/** Called once per fetched tile after its pixels were copied (or its fetch failed). */
export type TileRelease = (col: number, row: number) => void;

export async function readWindow(
  grid: TileGrid,
  x: number,
  y: number,
  width: number,
  height: number,
  getTile: TileFetcher,
  release?: TileRelease,
  into?: Uint8Array,
): Promise<Uint8Array> {
  const x0 = Math.max(x, 0);
  const y0 = Math.max(y, 0);
  const x1 = Math.min(x + width, grid.width);
  const y1 = Math.min(y + height, grid.height);
  const inside = x0 < x1 && y0 < y1;
  const covered = inside && x0 === x && y0 === y && x1 === x + width && y1 === y + height;
  // A window inside the image is entirely overwritten by tile rows: skip zeroing it. Otherwise white.
  const n = width * height * 3;
  let out: Uint8Array;
  if (into) {
    if (into.length !== n)
      throw new RangeError(`destination holds ${into.length} bytes, the window needs ${n}`);
    out = covered ? into : into.fill(255);
  } else {
    out = covered ? allocUnzeroed(n) : new Uint8Array(n).fill(255);
  }
  if (!inside) return out;
  const tw = grid.tileWidth;
  const th = grid.tileHeight;
  const c0 = Math.floor(x0 / tw);
  const c1 = Math.floor((x1 - 1) / tw);
  const r0 = Math.floor(y0 / th);
  const r1 = Math.floor((y1 - 1) / th);
  const copies: Promise<void>[] = [];
  for (let row = r0; row <= r1; row++) {
    for (let col = c0; col <= c1; col++) {
      const copied = getTile(col, row).then((tile) => {
        const tx = col * tw;
        const ty = row * th;
        const ix0 = Math.max(x0, tx);
        const ix1 = Math.min(x1, tx + tw);
        const iy0 = Math.max(y0, ty);
        const iy1 = Math.min(y1, ty + th);
        const rowBytes = (ix1 - ix0) * 3;
        for (let yy = iy0; yy < iy1; yy++) {
          const src = ((yy - ty) * tw + (ix0 - tx)) * 3;
          out.set(tile.subarray(src, src + rowBytes), ((yy - y) * width + (ix0 - x)) * 3);
        }
      });
      copies.push(release ? copied.finally(() => release(col, row)) : copied);
    }
  }
  await Promise.all(copies);
  return out;
}
