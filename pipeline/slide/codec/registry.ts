/**
 * Codecs keyed by TIFF compression code, loaded lazily on first use. A registry is a value (no module
 * state), so each worker thread builds its own with createDefaultCodecs().
 */
import { UnsupportedCompressionError } from '../../errors.ts';
import type { Codec } from './types.ts';

export interface CodecRegistry {
  register(codes: number | readonly number[], load: () => Promise<Codec>): void;
  has(code: number): boolean;
  /** Throws UnsupportedCompressionError naming the code. */
  get(code: number): Promise<Codec>;
}

/** Names of codes we know of but cannot decode, so the error says what the file uses. */
const KNOWN_NAMES: Record<number, string> = {
  2: 'CCITT RLE',
  3: 'CCITT Group 3',
  4: 'CCITT Group 4',
  6: 'old-style JPEG',
  32773: 'PackBits',
  34887: 'LERC',
  34925: 'LZMA',
  50000: 'Zstandard',
  50001: 'WebP',
  50002: 'JPEG XL',
  34892: 'lossy JPEG (DNG)',
};

/** The error for a code without a decoder, naming the compression when we know it. */
export function unsupportedCompression(code: number): UnsupportedCompressionError {
  return new UnsupportedCompressionError(code, KNOWN_NAMES[code]);
}

function createCodecRegistry(): CodecRegistry {
  const loaders = new Map<number, () => Promise<Codec>>();
  const loaded = new Map<number, Promise<Codec>>();
  return {
    register(codes, load) {
      for (const code of typeof codes === 'number' ? [codes] : codes) loaders.set(code, load);
    },
    has(code) {
      return loaders.has(code);
    },
    get(code) {
      let p = loaded.get(code);
      if (!p) {
        const load = loaders.get(code);
        if (!load) return Promise.reject(unsupportedCompression(code));
        p = load();
        loaded.set(code, p);
      }
      return p;
    },
  };
}

export function createDefaultCodecs(): CodecRegistry {
  const r = createCodecRegistry();
  r.register(1, async () => new (await import('./raw.ts')).RawCodec());
  r.register(5, async () => new (await import('./lzw.ts')).LzwCodec());
  r.register([8, 32946], async () => new (await import('./deflate.ts')).DeflateCodec());
  r.register(7, async () => new (await import('./jpeg.ts')).JpegCodec());
  r.register(33003, async () => new (await import('./jpeg2000.ts')).Jpeg2000Codec({ ycbcr: true }));
  r.register([33005, 34712], async () => new (await import('./jpeg2000.ts')).Jpeg2000Codec({ ycbcr: false }));
  return r;
}
