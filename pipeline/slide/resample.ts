/** Resizing RGB buffers with sharp, and a streaming box-filter shrink for levels too big to hold at once. */
import { readWindow, type TileFetcher, type TileRelease } from './assemble.ts';
import type { TileGrid } from './level.ts';
import { loadSharp } from './sharp-setup.ts';
import type { RGBImage } from './types.ts';

export async function resizeRgb(src: RGBImage, width: number, height: number): Promise<RGBImage> {
  if (src.width === width && src.height === height) return src;
  const sharp = await loadSharp();
  const data = await sharp(src.data, {
    raw: { width: src.width, height: src.height, channels: src.channels },
    limitInputPixels: false,
  })
    .resize(width, height, { fit: 'fill', kernel: width < src.width ? 'lanczos3' : 'cubic' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height, channels: 3 };
}

/**
 * Shrinks a whole level to width × height by averaging, one band of tile rows at a time, so memory
 * is one band plus the output whatever the level size.
 */
export async function shrinkLevelStreaming(
  grid: TileGrid,
  getTile: TileFetcher,
  width: number,
  height: number,
  release?: TileRelease,
): Promise<RGBImage> {
  const sums = new Float64Array(width * height * 3);
  const counts = new Float64Array(width * height);
  const xMap = new Int32Array(grid.width);
  for (let x = 0; x < grid.width; x++) xMap[x] = Math.min(width - 1, Math.floor((x * width) / grid.width));
  for (let by = 0; by < grid.height; by += grid.tileHeight) {
    const bh = Math.min(grid.tileHeight, grid.height - by);
    const band = await readWindow(grid, 0, by, grid.width, bh, getTile, release);
    for (let yy = 0; yy < bh; yy++) {
      const oy = Math.min(height - 1, Math.floor(((by + yy) * height) / grid.height));
      const rowBase = oy * width;
      let s = yy * grid.width * 3;
      for (let x = 0; x < grid.width; x++, s += 3) {
        const o = rowBase + xMap[x];
        sums[o * 3] += band[s];
        sums[o * 3 + 1] += band[s + 1];
        sums[o * 3 + 2] += band[s + 2];
        counts[o] += 1;
      }
    }
  }
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) {
    const n = counts[i] || 1;
    data[i * 3] = Math.round(sums[i * 3] / n);
    data[i * 3 + 1] = Math.round(sums[i * 3 + 1] / n);
    data[i * 3 + 2] = Math.round(sums[i * 3 + 2] / n);
  }
  return { data, width, height, channels: 3 };
}
