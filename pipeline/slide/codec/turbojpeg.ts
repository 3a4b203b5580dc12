/**
 * Direct libjpeg-turbo decoding through its TurboJPEG C API (Debian's libturbojpeg0) via koffi.
 * A 256² tile costs about a third of a sharp/libvips call, whose per-image pipeline setup dominates
 * at tile sizes, and it is the same library and settings (accurate integer IDCT, fancy upsampling)
 * OpenSlide uses, so pixels match it exactly. When the library or koffi is missing, callers fall
 * back to sharp (loadTurboJpeg() returns undefined).
 */
import { createRequire } from 'node:module';
import { allocTileBuffer } from '../tile-buffers.ts';

export interface TurboJpeg {
  /** Decodes a complete JPEG stream to interleaved RGB; throws with libjpeg's message on failure. */
  decodeRgb(jpeg: Uint8Array): { data: Uint8Array; width: number; height: number };
}

const LIBRARY_NAMES = ['libturbojpeg.so.0', 'libturbojpeg.so', 'libturbojpeg.dylib', 'turbojpeg.dll'];
const TJPF_RGB = 0;
/** Accurate integer IDCT and fancy upsampling: libjpeg's defaults, as OpenSlide and libvips decode. */
const TJ_FLAGS = 0;

let loaded: TurboJpeg | null | undefined;

export function loadTurboJpeg(): TurboJpeg | undefined {
  if (loaded !== undefined) return loaded ?? undefined;
  loaded = null;
  if (process.env.WSI_JPEG_DECODER === 'sharp') return undefined;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require('koffi') as typeof import('koffi');
    let lib: ReturnType<typeof koffi.load> | undefined;
    for (const name of LIBRARY_NAMES) {
      try {
        lib = koffi.load(name);
        break;
      } catch {
        // try the next name
      }
    }
    if (!lib) return undefined;
    const init = lib.func('void *tjInitDecompress()');
    const header = lib.func(
      'int tjDecompressHeader3(void *h, const uint8_t *buf, unsigned long size, _Out_ int *w, _Out_ int *ht, _Out_ int *ss, _Out_ int *cs)',
    );
    const decompress = lib.func(
      'int tjDecompress2(void *h, const uint8_t *buf, unsigned long size, uint8_t *dst, int w, int pitch, int ht, int pf, int flags)',
    );
    const errorString = lib.func('const char *tjGetErrorStr2(void *h)');
    const handle = init();
    if (!handle) return undefined;
    const w = [0];
    const h = [0];
    const ss = [0];
    const cs = [0];
    loaded = {
      decodeRgb(jpeg) {
        if (header(handle, jpeg, jpeg.length, w, h, ss, cs) !== 0) {
          throw new Error(String(errorString(handle)));
        }
        const width = w[0];
        const height = h[0];
        const data = allocTileBuffer(width * height * 3); // every byte is written by the decoder
        if (decompress(handle, jpeg, jpeg.length, data, width, 0, height, TJPF_RGB, TJ_FLAGS) !== 0) {
          throw new Error(String(errorString(handle)));
        }
        return { data, width, height };
      },
    };
    return loaded;
  } catch {
    return undefined;
  }
}
