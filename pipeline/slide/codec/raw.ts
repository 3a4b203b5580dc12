/** Compression 1: samples stored as they are. */
import { ByteCodec } from './byte-codec.ts';

export class RawCodec extends ByteCodec {
  readonly name = 'none';
  protected inflate(bytes: Uint8Array): Uint8Array {
    return bytes;
  }
}
