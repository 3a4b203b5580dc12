/** A TIFF image (tiled or stripped) as a LevelSource: raw block bytes → codec → RGB block. */
import { SlideFormatError } from '../../errors.ts';
import { standaloneJpeg } from '../codec/jpeg.ts';
import type { CodecRegistry } from '../codec/registry.ts';
import type { CodecParams } from '../codec/types.ts';
import type { LevelSource } from '../level.ts';
import { tileColumns, tileRows } from '../level.ts';
import { toRgbBlock } from '../pixels.ts';
import { recycleReadBuffer } from '../tile-buffers.ts';
import type { ByteReader } from './byte-source.ts';
import type { IfdInfo } from './ifd.ts';

export function createTiffLevel(ifd: IfdInfo, read: ByteReader, codecs: CodecRegistry): LevelSource {
  const params: CodecParams = {
    width: ifd.blockWidth,
    height: ifd.blockHeight,
    samplesPerPixel: ifd.samplesPerPixel,
    bitsPerSample: ifd.bitsPerSample,
    predictor: ifd.predictor,
    photometric: ifd.photometric,
    jpegTables: ifd.jpegTables,
  };
  const grid = {
    width: ifd.width,
    height: ifd.height,
    tileWidth: ifd.blockWidth,
    tileHeight: ifd.blockHeight,
  };
  const cols = tileColumns(grid);
  const rows = tileRows(grid);
  let white: Uint8Array | undefined;
  // Passthrough is for chunky 8-bit RGB/YCbCr JPEG tiles: readTile's pixels are then exactly the decoded stream.
  const jpegPassthrough =
    ifd.compression === 7 &&
    ifd.tiled &&
    ifd.planar === 1 &&
    ifd.bitsPerSample === 8 &&
    ifd.samplesPerPixel === 3 &&
    (ifd.photometric === 2 || ifd.photometric === 6);

  async function rawTile(col: number, row: number, signal?: AbortSignal): Promise<Uint8Array> {
    if (col < 0 || row < 0 || col >= cols || row >= rows) {
      throw new SlideFormatError(`tile ${col},${row} is outside the ${cols}×${rows} grid`);
    }
    const { offsets, counts } = await ifd.loadBlocks();
    const idx = row * cols + col;
    if (idx >= offsets.length) throw new SlideFormatError(`tile ${col},${row} has no offset in the file`);
    return read(offsets[idx], counts[idx], signal);
  }

  return {
    ...grid,
    readRawTile: (col, row) => rawTile(col, row),
    async readStandaloneTile(col, row) {
      if (!jpegPassthrough) return undefined;
      const bytes = await rawTile(col, row);
      if (bytes.length === 0) return undefined;
      const jpeg = standaloneJpeg(bytes, params);
      return jpeg && { bytes: jpeg, mime: 'image/jpeg' };
    },
    async readTile(col, row, signal) {
      signal?.throwIfAborted();
      const bytes = await rawTile(col, row, signal);
      if (bytes.length === 0) {
        // Empty tiles (TileByteCounts 0) are white, without I/O or decoding.
        white ??= new Uint8Array(ifd.blockWidth * ifd.blockHeight * 3).fill(255);
        return white;
      }
      const codec = await codecs.get(ifd.compression);
      const decoded = await codec.decode(bytes, params);
      const tile = toRgbBlock(decoded, ifd.blockWidth, ifd.blockHeight, ifd.photometric);
      // The compressed bytes can be reused unless the tile is a view of them (uncompressed RGB).
      if (tile.buffer !== bytes.buffer) recycleReadBuffer(bytes);
      return tile;
    },
  };
}
