/**
 * A frame's bytes to an RGB tile with the codecs the reader already has: JPEG (TurboJPEG or sharp),
 * JPEG 2000 (wasm OpenJPEG), native samples. Photometric interpretation decides the colour path:
 * JPEG RGB frames get the Adobe "no transform" marker (as TIFF photometric RGB); YBR_FULL(_422) JPEG
 * is libjpeg's usual YCbCr; YBR_ICT / YBR_RCT JPEG 2000 are undone by OpenJPEG's inverse MCT; JPEG 2000
 * or native YBR_FULL is converted here (JPEG 2000 labelled YBR_FULL_422 is read as its codestream says).
 */
import { SlideFormatError } from '../../errors.ts';
import type { CodecRegistry } from '../codec/registry.ts';
import type { CodecParams, DecodedBlock } from '../codec/types.ts';
import { ycbcrToRgbInPlace } from '../codec/ycbcr.ts';
import { toRgbBlock } from '../pixels.ts';
import type { WsiInstance } from './instance.ts';

/** TIFF codes of the registry's codecs. */
const TIFF_JPEG = 7;
const TIFF_J2K_RGB = 34712;
const TIFF_J2K_YCBCR = 33003;

export function codecParams(inst: WsiInstance): CodecParams {
  return {
    width: inst.tileWidth,
    height: inst.tileHeight,
    samplesPerPixel: inst.samplesPerPixel,
    bitsPerSample: 8,
    predictor: 1,
    photometric: inst.photometric === 'RGB' ? 2 : inst.photometric.startsWith('MONO') ? 1 : 6,
  };
}

function decodeNative(inst: WsiInstance, bytes: Uint8Array): DecodedBlock {
  const w = inst.tileWidth;
  const h = inst.tileHeight;
  const spp = inst.samplesPerPixel;
  const n = w * h;
  if (bytes.length < n * spp)
    throw new SlideFormatError(
      `${inst.where}: a native frame holds ${bytes.length} bytes, expected ${n * spp}`,
    );
  if (spp === 1) return { data: bytes, width: w, height: h, channels: 1 };
  let data: Uint8Array;
  if (inst.photometric === 'YBR_FULL_422') {
    // Two pixels share Cb, Cr: Y0 Y1 Cb Cr (PS3.3 C.7.6.3.1.2).
    data = new Uint8Array(n * 3);
    for (let i = 0, o = 0; i + 1 < n; i += 2, o += 4) {
      const cb = bytes[o + 2];
      const cr = bytes[o + 3];
      data.set([bytes[o], cb, cr, bytes[o + 1], cb, cr], i * 3);
    }
  } else if (inst.planar === 1) {
    data = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) {
      data[i * 3] = bytes[i];
      data[i * 3 + 1] = bytes[n + i];
      data[i * 3 + 2] = bytes[2 * n + i];
    }
  } else {
    data = bytes.subarray(0, n * 3);
  }
  if (inst.photometric.startsWith('YBR')) {
    if (data === bytes || data.buffer === bytes.buffer) data = data.slice();
    ycbcrToRgbInPlace(data, n, 3);
  }
  return { data, width: w, height: h, channels: 3 };
}

export async function decodeFrame(
  inst: WsiInstance,
  bytes: Uint8Array,
  codecs: CodecRegistry,
): Promise<Uint8Array> {
  let decoded: DecodedBlock;
  const params = codecParams(inst);
  if (inst.encoding === 'jpeg') {
    decoded = await (await codecs.get(TIFF_JPEG)).decode(bytes, params);
  } else if (inst.encoding === 'jpeg2000') {
    // Only YBR_FULL means YCbCr components without the codestream's own MCT. YBR_FULL_422 is not
    // valid for JPEG 2000 (PS3.5 8.2.4); Orthanc's dicomizer writes it over RGB codestreams.
    const ycbcr = inst.photometric === 'YBR_FULL';
    decoded = await (await codecs.get(ycbcr ? TIFF_J2K_YCBCR : TIFF_J2K_RGB)).decode(bytes, params);
  } else {
    decoded = decodeNative(inst, bytes);
  }
  return toRgbBlock(decoded, inst.tileWidth, inst.tileHeight, inst.photometric === 'MONOCHROME1' ? 0 : 2);
}
