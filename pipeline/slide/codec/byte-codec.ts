/**
 * Base for codecs that produce raw sample bytes (none, deflate, LZW): subclasses only inflate, the
 * base undoes the horizontal predictor and shapes the result. Mirrors geotiff.js's BaseDecoder.
 */
import { SlideFormatError } from '../../errors.ts';
import type { Codec, CodecParams, DecodedBlock } from './types.ts';

export abstract class ByteCodec implements Codec {
  abstract readonly name: string;
  protected abstract inflate(bytes: Uint8Array, expectedLength: number): Uint8Array;

  async decode(bytes: Uint8Array, p: CodecParams): Promise<DecodedBlock> {
    if (p.bitsPerSample !== 8) {
      throw new SlideFormatError(
        `${this.name} blocks with ${p.bitsPerSample} bits per sample are not supported`,
      );
    }
    const expected = p.width * p.height * p.samplesPerPixel;
    let data = this.inflate(bytes, expected);
    if (data.length < expected) {
      // Short blocks happen for the last strip of an image; pad with white rather than read past the end.
      const padded = new Uint8Array(expected).fill(255);
      padded.set(data);
      data = padded;
    } else if (data.length > expected) {
      data = data.subarray(0, expected);
    }
    if (p.predictor === 2) undoHorizontalDifferencing(data, p.width, p.height, p.samplesPerPixel);
    else if (p.predictor !== 1)
      throw new SlideFormatError(`TIFF predictor ${p.predictor} is not supported (1 or 2 only)`);
    return { data, width: p.width, height: p.height, channels: p.samplesPerPixel };
  }
}

/** TIFF Predictor 2 for 8-bit samples: each sample is stored as the difference to its left neighbour. */
function undoHorizontalDifferencing(data: Uint8Array, width: number, height: number, spp: number): void {
  const rowLen = width * spp;
  for (let y = 0; y < height; y++) {
    const start = y * rowLen;
    for (let i = start + spp; i < start + rowLen; i++) data[i] = (data[i] + data[i - spp]) & 0xff;
  }
}
