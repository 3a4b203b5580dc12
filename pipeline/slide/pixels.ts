/** Shaping decoded blocks into the reader's one pixel format: interleaved 8-bit RGB of a fixed block size. */
import { SlideFormatError } from '../errors.ts';
import type { DecodedBlock } from './codec/types.ts';

/**
 * Returns blockWidth × blockHeight × 3 bytes. Grey is replicated, alpha dropped, MinIsWhite inverted;
 * short blocks (last strip) are padded white.
 */
export function toRgbBlock(
  b: DecodedBlock,
  blockWidth: number,
  blockHeight: number,
  photometric: number,
): Uint8Array {
  const ch = b.channels;
  if (ch === 3 && b.width === blockWidth && b.height === blockHeight && photometric !== 0) return b.data;
  if (ch < 1 || ch > 4) throw new SlideFormatError(`blocks with ${ch} samples per pixel are not supported`);
  const out = new Uint8Array(blockWidth * blockHeight * 3);
  if (b.width < blockWidth || b.height < blockHeight) out.fill(255);
  const w = Math.min(b.width, blockWidth);
  const h = Math.min(b.height, blockHeight);
  const invert = photometric === 0 && ch <= 2;
  for (let y = 0; y < h; y++) {
    let s = y * b.width * ch;
    let o = y * blockWidth * 3;
    for (let x = 0; x < w; x++, s += ch, o += 3) {
      if (ch <= 2) {
        const v = invert ? 255 - b.data[s] : b.data[s];
        out[o] = v;
        out[o + 1] = v;
        out[o + 2] = v;
      } else {
        out[o] = b.data[s];
        out[o + 1] = b.data[s + 1];
        out[o + 2] = b.data[s + 2];
      }
    }
  }
  return out;
}
