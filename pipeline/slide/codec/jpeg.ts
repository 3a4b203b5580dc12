/**
 * Compression 7: JPEG tiles, decoded by libjpeg-turbo directly (codec/turbojpeg.ts) when the system
 * library is there, else by sharp; both give identical pixels. Two TIFF details matter:
 * - JPEGTables: tiles are abbreviated streams; the decodable JPEG is the tables without their EOI
 *   followed by the tile without its SOI.
 * - Photometric RGB (Aperio writes some slides this way): the components are R, G, B, but libjpeg
 *   assumes YCbCr for 3 components unless an Adobe APP14 marker says transform = 0, so we insert one.
 */

import { SlideFormatError } from '../../errors.ts';
import { sharp } from '../sharp-setup.ts';
import { loadTurboJpeg } from './turbojpeg.ts';
import type { Codec, CodecParams, DecodedBlock } from './types.ts';

/** Adobe APP14: "Adobe", version 100, flags0 0, flags1 0, transform 0 (no colour transform). */
const ADOBE_APP14_NO_TRANSFORM = Buffer.from([
  0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00,
]);
const PHOTOMETRIC_RGB = 2;

export function buildJpegStream(
  tile: Uint8Array,
  p: Pick<CodecParams, 'jpegTables' | 'photometric' | 'samplesPerPixel'>,
): Buffer {
  if (tile.length < 4 || tile[0] !== 0xff || tile[1] !== 0xd8) {
    throw new SlideFormatError('corrupt JPEG tile: no SOI marker');
  }
  const parts: Uint8Array[] = [tile.subarray(0, 2)];
  if (p.photometric === PHOTOMETRIC_RGB && p.samplesPerPixel >= 3) parts.push(ADOBE_APP14_NO_TRANSFORM);
  const tables = p.jpegTables;
  if (tables && tables.length > 4) {
    // Tables are SOI … EOI: keep what lies between.
    const end =
      tables[tables.length - 2] === 0xff && tables[tables.length - 1] === 0xd9
        ? tables.length - 2
        : tables.length;
    parts.push(tables.subarray(2, end));
  }
  parts.push(tile.subarray(2));
  return Buffer.concat(parts);
}

export class JpegCodec implements Codec {
  readonly name = 'JPEG';
  async decode(bytes: Uint8Array, p: CodecParams): Promise<DecodedBlock> {
    const stream = buildJpegStream(bytes, p);
    const turbo = loadTurboJpeg();
    if (turbo) {
      try {
        const { data, width, height } = turbo.decodeRgb(stream);
        return { data, width, height, channels: 3 };
      } catch {
        // Anything TurboJPEG refuses (CMYK, lossless, ...) goes to sharp, which also reports real corruption.
      }
    }
    try {
      const { data, info } = await sharp(stream, { limitInputPixels: false, sequentialRead: true })
        .raw()
        .toBuffer({ resolveWithObject: true });
      return {
        data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        width: info.width,
        height: info.height,
        channels: info.channels,
      };
    } catch (err) {
      throw new SlideFormatError(`corrupt JPEG tile: ${(err as Error).message.split('\n')[0]}`, {
        cause: err,
      });
    }
  }
}
