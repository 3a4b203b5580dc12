/** A DICOM pyramid level (one or more instances, one tile map) as a LevelSource. */
import { standaloneJpeg } from '../codec/jpeg.ts';
import type { CodecRegistry } from '../codec/registry.ts';
import type { LevelSource } from '../level.ts';
import { recycleReadBuffer } from '../tile-buffers.ts';
import { codecParams, decodeFrame } from './decode-frame.ts';
import type { ImageData } from './image-data.ts';
import type { WsiInstance } from './instance.ts';
import type { TileMap } from './tiling/index.ts';

export function createDicomLevel(
  instances: readonly WsiInstance[],
  map: TileMap,
  data: ImageData,
  codecs: CodecRegistry,
): LevelSource {
  const first = instances[0];
  const grid = {
    width: first.width,
    height: first.height,
    tileWidth: first.tileWidth,
    tileHeight: first.tileHeight,
  };
  let white: Uint8Array | undefined;

  function frameOf(col: number, row: number): { inst: WsiInstance; frame: number } | undefined {
    if (col < 0 || row < 0 || col >= map.cols || row >= map.rows) return undefined;
    const t = row * map.cols + col;
    const i = map.instance[t];
    return i < 0 ? undefined : { inst: instances[i], frame: map.frame[t] };
  }

  return {
    ...grid,
    async readRawTile(col, row) {
      const f = frameOf(col, row);
      return f ? (await data.readFrame(f.inst, f.frame)).slice() : new Uint8Array(0);
    },
    async readStandaloneTile(col, row) {
      const f = frameOf(col, row);
      if (!f || f.inst.encoding !== 'jpeg' || f.inst.samplesPerPixel !== 3) return undefined;
      // standaloneJpeg builds a new stream (Buffer.concat): nothing of the read buffer escapes.
      const jpeg = standaloneJpeg(await data.readFrame(f.inst, f.frame), codecParams(f.inst));
      return jpeg && { bytes: jpeg, mime: 'image/jpeg' };
    },
    async readTile(col, row, signal) {
      signal?.throwIfAborted();
      const f = frameOf(col, row);
      if (!f) {
        // No frame at this position (TILED_SPARSE): white, without I/O.
        white ??= new Uint8Array(grid.tileWidth * grid.tileHeight * 3).fill(255);
        return white;
      }
      const bytes = await data.readFrame(f.inst, f.frame, signal);
      const tile = await decodeFrame(f.inst, bytes, codecs);
      // The compressed bytes can be reused unless the tile is a view of them (native RGB). They sit
      // after the item header (offset 8): hand back the whole read buffer, which nothing else holds.
      if (tile.buffer !== bytes.buffer) recycleReadBuffer(new Uint8Array(bytes.buffer, 0, 0));
      return tile;
    },
  };
}
