/**
 * Reading byte ranges: tile bytes of local files with positioned synchronous reads on one open file
 * descriptor (a 10–50 KB read from the page cache costs microseconds, far less than a hop through
 * libuv's thread pool); remote files through geotiff's source (HTTP range requests, blocked and cached).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type GeoTIFF from 'geotiff';
import { SlideFormatError } from '../../errors.ts';
import { allocReadBuffer } from '../tile-buffers.ts';

export type ByteReader = (offset: number, length: number, signal?: AbortSignal) => Promise<Uint8Array>;

export type TiffSource = GeoTIFF['source'];

export async function readBytes(
  source: TiffSource,
  offset: number,
  length: number,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (length === 0) return new Uint8Array(0);
  let buf: ArrayBufferLike;
  try {
    [buf] = await source.fetch([{ offset, length }], signal);
  } catch (err) {
    throw new SlideFormatError(`cannot read ${length} bytes at offset ${offset}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (buf.byteLength < length) {
    throw new SlideFormatError(
      `file is truncated: wanted ${length} bytes at offset ${offset}, got ${buf.byteLength}`,
    );
  }
  return new Uint8Array(buf, 0, length);
}

export function sourceReader(source: TiffSource): ByteReader {
  return (offset, length, signal) => readBytes(source, offset, length, signal);
}

export function fileReader(path: string): { read: ByteReader; close(): void } {
  const fd = openSync(path, 'r');
  let closed = false;
  return {
    async read(offset, length) {
      if (closed) throw new SlideFormatError(`${path} is closed`);
      // Recyclable (tile-buffers.ts): readTile hands the bytes back once they are decoded.
      const out = allocReadBuffer(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, out, done, length - done, offset + done);
        if (n === 0) {
          throw new SlideFormatError(
            `file is truncated: wanted ${length} bytes at offset ${offset}, got ${done}`,
          );
        }
        done += n;
      }
      return out;
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}
