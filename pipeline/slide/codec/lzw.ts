/**
 * Compression 5: TIFF LZW (MSB-first codes of 9–12 bits, Clear 256, EOI 257, "early change": the code
 * width grows one code before the table fills, as libtiff writes it).
 */
import { SlideFormatError } from '../../errors.ts';
import { ByteCodec } from './byte-codec.ts';

const CLEAR = 256;
const EOI = 257;

export function decodeTiffLzw(input: Uint8Array, expectedLength: number): Uint8Array {
  const prefix = new Int32Array(4096);
  const suffix = new Uint8Array(4096);
  const first = new Uint8Array(4096);
  const len = new Int32Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    suffix[i] = i;
    first[i] = i;
    len[i] = 1;
  }
  let out = new Uint8Array(Math.max(expectedLength, 16));
  let pos = 0;
  const ensure = (n: number) => {
    if (pos + n <= out.length) return;
    const bigger = new Uint8Array(Math.max(out.length * 2, pos + n));
    bigger.set(out);
    out = bigger;
  };
  const emit = (code: number) => {
    const n = len[code];
    ensure(n);
    let c = code;
    for (let i = pos + n - 1; i >= pos; i--) {
      out[i] = suffix[c];
      c = prefix[c];
    }
    pos += n;
  };
  const totalBits = input.length * 8;
  let bitPos = 0;
  let width = 9;
  let next = 258;
  let old = -1;
  while (bitPos + width <= totalBits) {
    // Read `width` bits MSB-first (at most 12 bits, so three bytes always suffice).
    const byte = bitPos >>> 3;
    const window = (input[byte] << 16) | ((input[byte + 1] ?? 0) << 8) | (input[byte + 2] ?? 0);
    const code = (window >>> (24 - (bitPos & 7) - width)) & ((1 << width) - 1);
    bitPos += width;
    if (code === EOI) break;
    if (code === CLEAR) {
      width = 9;
      next = 258;
      old = -1;
      continue;
    }
    if (old === -1) {
      if (code > 255) throw new SlideFormatError(`corrupt LZW data: code ${code} after a clear`);
      emit(code);
      old = code;
      continue;
    }
    let head: number;
    if (code < next) {
      emit(code);
      head = first[code];
    } else if (code === next) {
      head = first[old];
      emit(old);
      ensure(1);
      out[pos++] = head;
    } else {
      throw new SlideFormatError(`corrupt LZW data: code ${code} beyond table size ${next}`);
    }
    if (next < 4096) {
      prefix[next] = old;
      suffix[next] = head;
      first[next] = first[old];
      len[next] = len[old] + 1;
      next++;
    }
    if (next >= (1 << width) - 1 && width < 12) width++;
    old = code;
  }
  return out.subarray(0, pos);
}

export class LzwCodec extends ByteCodec {
  readonly name = 'LZW';
  protected inflate(bytes: Uint8Array, expectedLength: number): Uint8Array {
    return decodeTiffLzw(bytes, expectedLength);
  }
}
