import { existsSync } from 'node:fs';
import { fromFile } from 'geotiff';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeTiffLzw } from '../fixtures/tiff-writer.ts';
import { UnsupportedCompressionError } from '../pipeline/errors.ts';
import { buildJpegStream, JpegCodec } from '../pipeline/slide/codec/jpeg.ts';
import { decodeTiffLzw } from '../pipeline/slide/codec/lzw.ts';
import { createDefaultCodecs } from '../pipeline/slide/codec/registry.ts';
import { loadTurboJpeg } from '../pipeline/slide/codec/turbojpeg.ts';
import { CMU_SLIDE } from './helpers/paths.ts';

describe('codecs', () => {
  it('JPEG tiles decode bit-identically to sharp, through libjpeg-turbo directly when the system has it', async () => {
    const turbo = loadTurboJpeg();
    // Debian's libturbojpeg0 (see the Makefile's test dependencies): when it is there, it must be used.
    const systemLib = [
      '/usr/lib/x86_64-linux-gnu/libturbojpeg.so.0',
      '/usr/lib/aarch64-linux-gnu/libturbojpeg.so.0',
    ].some((f) => existsSync(f));
    if (systemLib && process.env.WSI_JPEG_DECODER !== 'sharp')
      expect(turbo, 'libturbojpeg.so.0 is installed but could not be loaded through koffi').toBeDefined();
    const codec = new JpegCodec();
    const tiff = await fromFile(CMU_SLIDE);
    const ifd = await tiff.requestIFD(0);
    const tables = (await ifd.loadValue(347)) as Uint8Array;
    const params = {
      width: 240,
      height: 240,
      samplesPerPixel: 3,
      bitsPerSample: 8,
      predictor: 1,
      photometric: 2,
      jpegTables: tables,
    };
    for (const idx of [0, 17, 64, 129]) {
      const offset = Number(await ifd.loadValueIndexed(324, idx));
      const length = Number(await ifd.loadValueIndexed(325, idx));
      const [raw] = await tiff.source.fetch([{ offset, length }]);
      const tile = new Uint8Array(raw);
      const jpeg = buildJpegStream(tile, params);
      const viaSharp = await sharp(jpeg).raw().toBuffer();
      const decoded = await codec.decode(tile, params);
      expect([decoded.width, decoded.height, decoded.channels]).toEqual([240, 240, 3]);
      expect(Buffer.compare(Buffer.from(decoded.data), viaSharp)).toBe(0);
      if (turbo) expect(Buffer.compare(Buffer.from(turbo.decodeRgb(jpeg).data), viaSharp)).toBe(0);
    }
    await tiff.close();
  });

  it('TIFF LZW round-trips, including table resets on long inputs', () => {
    const inputs = [
      new Uint8Array(0),
      new Uint8Array([7]),
      new Uint8Array(100_000).fill(42), // long runs: codes grow to 12 bits
      Uint8Array.from({ length: 200_000 }, (_, i) => (i * 2654435761) >>> 24), // noisy: many clears
    ];
    for (const input of inputs) {
      const out = decodeTiffLzw(encodeTiffLzw(input), input.length);
      expect(Buffer.compare(Buffer.from(out), Buffer.from(input))).toBe(0);
    }
  });

  it('the registry names unknown compressions instead of guessing', async () => {
    const codecs = createDefaultCodecs();
    for (const code of [1, 5, 7, 8, 32946, 33003, 33005]) expect(codecs.has(code)).toBe(true);
    await expect(codecs.get(34887)).rejects.toThrow(UnsupportedCompressionError);
    await expect(codecs.get(34887)).rejects.toThrow(/34887 \(LERC\)/);
  });
});
