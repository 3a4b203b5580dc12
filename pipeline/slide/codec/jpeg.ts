/**
 * Compression 7: JPEG tiles, decoded by libjpeg-turbo directly (codec/turbojpeg.ts) when the system
 * library is there, else by sharp; both give identical pixels. Two TIFF details matter:
 * - JPEGTables: tiles are abbreviated streams; the decodable JPEG is the tables without their EOI
 *   followed by the tile without its SOI.
 * - Photometric RGB (Aperio writes some slides this way): the components are R, G, B, but libjpeg
 *   assumes YCbCr for 3 components unless an Adobe APP14 marker says transform = 0, so we insert one.
 */

import { SlideFormatError } from '../../errors.ts';
import { loadSharp } from '../sharp-setup.ts';
import { loadTurboJpeg } from './turbojpeg.ts';
import type { Codec, CodecParams, DecodedBlock } from './types.ts';

/** Adobe APP14: "Adobe", version 100, flags0 0, flags1 0, transform 0 (no colour transform). */
const ADOBE_APP14_NO_TRANSFORM = Buffer.from([
  0xff, 0xee, 0x00, 0x0e, 0x41, 0x64, 0x6f, 0x62, 0x65, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00,
]);
const PHOTOMETRIC_RGB = 2;

/** The pieces of the decodable stream, in order (views, nothing copied). */
function jpegStreamParts(
  tile: Uint8Array,
  p: Pick<CodecParams, 'jpegTables' | 'photometric' | 'samplesPerPixel'>,
): Uint8Array[] {
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
  return parts;
}

export function buildJpegStream(
  tile: Uint8Array,
  p: Pick<CodecParams, 'jpegTables' | 'photometric' | 'samplesPerPixel'>,
): Buffer {
  return Buffer.concat(jpegStreamParts(tile, p));
}

/**
 * The same stream in this thread's scratch buffer, valid until the next call: for decoders that finish
 * with it synchronously, so a random read allocates nothing per tile for the stream.
 */
let scratch = new Uint8Array(0);
function scratchJpegStream(
  tile: Uint8Array,
  p: Pick<CodecParams, 'jpegTables' | 'photometric' | 'samplesPerPixel'>,
): Uint8Array {
  const parts = jpegStreamParts(tile, p);
  let n = 0;
  for (const part of parts) n += part.length;
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  let o = 0;
  for (const part of parts) {
    scratch.set(part, o);
    o += part.length;
  }
  return scratch.subarray(0, n);
}

/** SOF markers browsers decode: baseline, extended sequential and progressive Huffman. */
const BROWSER_SOF = new Set([0xc0, 0xc1, 0xc2]);

/** The frame header (SOFn) of a JPEG stream: marker, precision, size and component count; undefined if none before SOS. */
function jpegFrame(
  stream: Uint8Array,
): { marker: number; precision: number; width: number; height: number; components: number } | undefined {
  let i = 2;
  while (i + 4 <= stream.length) {
    if (stream[i] !== 0xff) return undefined;
    const m = stream[i + 1];
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) {
      i += 2; // markers without a length
      continue;
    }
    if (m === 0xd9 || m === 0xda) return undefined;
    const len = (stream[i + 2] << 8) | stream[i + 3];
    if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (i + 10 > stream.length) return undefined;
      return {
        marker: m,
        precision: stream[i + 4],
        height: (stream[i + 5] << 8) | stream[i + 6],
        width: (stream[i + 7] << 8) | stream[i + 8],
        components: stream[i + 9],
      };
    }
    i += 2 + len;
  }
  return undefined;
}

/**
 * A TIFF JPEG tile as a standalone .jpg (the same stream the codec decodes: tables spliced in, Adobe
 * marker for RGB), or undefined when a browser could not show it as readTile's pixels: not an 8-bit
 * 3-component baseline/progressive frame of exactly the block size (lossless, arithmetic, CMYK, grey).
 */
export function standaloneJpeg(
  tile: Uint8Array,
  p: Pick<CodecParams, 'jpegTables' | 'photometric' | 'samplesPerPixel' | 'width' | 'height'>,
): Buffer | undefined {
  if (tile.length < 4 || tile[0] !== 0xff || tile[1] !== 0xd8) return undefined;
  const stream = buildJpegStream(tile, p);
  const f = jpegFrame(stream);
  if (!f || !BROWSER_SOF.has(f.marker) || f.precision !== 8 || f.components !== 3) return undefined;
  return f.width === p.width && f.height === p.height ? stream : undefined;
}

export class JpegCodec implements Codec {
  readonly name = 'JPEG';
  async decode(bytes: Uint8Array, p: CodecParams): Promise<DecodedBlock> {
    const turbo = loadTurboJpeg();
    if (turbo) {
      try {
        // TurboJPEG decodes synchronously, so the stream can live in scratch memory.
        const { data, width, height } = turbo.decodeRgb(scratchJpegStream(bytes, p));
        return { data, width, height, channels: 3 };
      } catch {
        // Anything TurboJPEG refuses (CMYK, lossless, ...) goes to sharp, which also reports real corruption.
      }
    }
    const stream = buildJpegStream(bytes, p);
    const sharp = await loadSharp();
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
