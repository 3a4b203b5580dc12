/** Compression 8 / 32946: zlib (Adobe deflate). */
import { inflateSync } from 'node:zlib';
import { SlideFormatError } from '../../errors.ts';
import { ByteCodec } from './byte-codec.ts';

export class DeflateCodec extends ByteCodec {
  readonly name = 'deflate';
  protected inflate(bytes: Uint8Array): Uint8Array {
    try {
      const out = inflateSync(bytes);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch (err) {
      throw new SlideFormatError(`corrupt deflate tile: ${(err as Error).message}`, { cause: err });
    }
  }
}
