/** Reading byte ranges through geotiff's source (file or HTTP range requests), as Uint8Arrays. */
import type GeoTIFF from 'geotiff';
import { SlideFormatError } from '../../errors.ts';

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
