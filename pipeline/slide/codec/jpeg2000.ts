/**
 * Aperio JPEG 2000 (33003: YCbCr components, 33005: RGB components) and generic 34712, decoded by
 * the bundled wasm OpenJPEG build. One decoder instance per thread, created on first use.
 */
import { createRequire } from 'node:module';
import { SlideFormatError } from '../../errors.ts';
import type { Codec, DecodedBlock } from './types.ts';
import { ycbcrToRgbInPlace } from './ycbcr.ts';

interface J2kDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getDecodedBuffer(): Uint8Array;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
}
interface OpenJpegModule {
  J2KDecoder: new () => J2kDecoder;
}
type OpenJpegFactory = (options: {
  print: (s: string) => void;
  printErr: (s: string) => void;
}) => Promise<OpenJpegModule>;

let decoderPromise: Promise<J2kDecoder> | undefined;

function getDecoder(): Promise<J2kDecoder> {
  if (!decoderPromise) {
    const require = createRequire(import.meta.url);
    const factory = require('@cornerstonejs/codec-openjpeg/decodewasmjs') as OpenJpegFactory;
    // OpenJPEG logs "[INFO] ..." lines for every tile: silence them.
    decoderPromise = factory({ print: () => {}, printErr: () => {} }).then((m) => new m.J2KDecoder());
  }
  return decoderPromise;
}

export class Jpeg2000Codec implements Codec {
  readonly name: string;
  private readonly ycbcr: boolean;
  constructor(options: { ycbcr: boolean }) {
    this.ycbcr = options.ycbcr;
    this.name = options.ycbcr ? 'Aperio JPEG 2000 YCbCr' : 'JPEG 2000';
  }

  async decode(bytes: Uint8Array): Promise<DecodedBlock> {
    const decoder = await getDecoder();
    let info: ReturnType<J2kDecoder['getFrameInfo']>;
    let data: Uint8Array;
    try {
      decoder.getEncodedBuffer(bytes.length).set(bytes);
      decoder.decode();
      info = decoder.getFrameInfo();
      // The decoded buffer is a view into wasm memory that the next decode overwrites: copy it out.
      data = new Uint8Array(decoder.getDecodedBuffer());
    } catch (err) {
      throw new SlideFormatError(`corrupt JPEG 2000 tile: ${String(err)}`, { cause: err });
    }
    if (info.bitsPerSample !== 8) {
      throw new SlideFormatError(
        `JPEG 2000 tiles with ${info.bitsPerSample} bits per sample are not supported`,
      );
    }
    if (this.ycbcr && info.componentCount >= 3) {
      ycbcrToRgbInPlace(data, info.width * info.height, info.componentCount);
    }
    return { data, width: info.width, height: info.height, channels: info.componentCount };
  }
}
