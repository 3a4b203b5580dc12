/**
 * A single-band 32-bit float TIFF writer (TIFF 6.0 baseline + SampleFormat 3, Adobe deflate strips, no
 * predictor so every reader's zlib path decodes it) that places the image on its slide with standard tags:
 *  - ImageDescription (270): a JSON description (origin, steps, patch size, µm/px);
 *  - XResolution/YResolution (282/283) + ResolutionUnit (296): pixels per centimetre of the slide when its
 *    µm/px is known (tifffile, Pillow and libvips report the cell size; ImageJ/Bio-Formats read the same tags),
 *    else unit 1 (none) with cells per level-0 pixel;
 *  - GeoTIFF ModelPixelScale (33550) = (stepX, −stepY, 0) and ModelTiepoint (33922) = (0, 0, 0, originX,
 *    originY, 0) in level-0 pixel units, raster type PixelIsArea, no CRS (GTModelType user-defined): GDAL's
 *    geotransform and geotiff.js `getResolution()` then give (stepX, +stepY), y growing downward as level-0
 *    rows do, and `getOrigin()` the level-0 corner of pixel (0, 0);
 *  - GDAL_NODATA (42113) = "nan".
 * Little-endian, one IFD, written in one buffer (a heatmap is at most 8192² cells, 256 MiB raw).
 */
import { endianness } from 'node:os';
import { deflateSync } from 'node:zlib';

export interface Float32TiffOptions {
  description: string;
  originX: number;
  originY: number;
  stepX: number;
  stepY: number;
  /** Level-0 µm per pixel of the slide, if known. */
  mpp: number | null;
  software?: string;
}

const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;
const DOUBLE = 12;
const ASCII = 2;

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** Bytes of the value, little-endian. */
  bytes: Buffer;
}

const shorts = (tag: number, ...v: number[]): Entry => {
  const b = Buffer.alloc(2 * v.length);
  v.forEach((x, i) => {
    b.writeUInt16LE(x, 2 * i);
  });
  return { tag, type: SHORT, count: v.length, bytes: b };
};
const longs = (tag: number, ...v: number[]): Entry => {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => {
    b.writeUInt32LE(x, 4 * i);
  });
  return { tag, type: LONG, count: v.length, bytes: b };
};
const doubles = (tag: number, ...v: number[]): Entry => {
  const b = Buffer.alloc(8 * v.length);
  v.forEach((x, i) => {
    b.writeDoubleLE(x, 8 * i);
  });
  return { tag, type: DOUBLE, count: v.length, bytes: b };
};
const ascii = (tag: number, s: string): Entry => {
  const b = Buffer.from(`${s}\0`, 'latin1');
  return { tag, type: ASCII, count: b.length, bytes: b };
};

/** A positive rational close to v (denominator up to 10⁶, both terms 32-bit). */
export function rational(v: number): [number, number] {
  let den = 1_000_000;
  while (v * den > 0xffffffff && den > 1) den /= 10;
  return [Math.round(v * den), den];
}
const rationalEntry = (tag: number, v: number): Entry => {
  const [n, d] = rational(v);
  const b = Buffer.alloc(8);
  b.writeUInt32LE(n, 0);
  b.writeUInt32LE(d, 4);
  return { tag, type: RATIONAL, count: 1, bytes: b };
};

/** The samples as little-endian bytes (a view on little-endian machines, a copy otherwise). */
function littleEndianBytes(v: Float32Array): Buffer {
  if (endianness() === 'LE') return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  const b = Buffer.alloc(v.length * 4);
  for (let k = 0; k < v.length; k++) b.writeFloatLE(v[k], 4 * k);
  return b;
}

/** Rows per strip: about 64 KiB of samples each. */
function rowsPerStrip(width: number, height: number): number {
  return Math.max(1, Math.min(height, Math.floor(65536 / (4 * width))));
}

export function encodeFloat32Tiff(
  width: number,
  height: number,
  values: Float32Array,
  o: Float32TiffOptions,
): Buffer {
  if (values.length !== width * height)
    throw new RangeError(`expected ${width * height} values, got ${values.length}`);
  const rps = rowsPerStrip(width, height);
  const strips: Buffer[] = [];
  for (let y = 0; y < height; y += rps) {
    const rows = Math.min(rps, height - y);
    strips.push(deflateSync(littleEndianBytes(values.subarray(y * width, (y + rows) * width))));
  }
  // Resolution: pixels per cm of slide (1 cm = 10⁴ µm) when µm/px is known.
  const perX = o.mpp ? 1e4 / (o.stepX * o.mpp) : 1 / o.stepX;
  const perY = o.mpp ? 1e4 / (o.stepY * o.mpp) : 1 / o.stepY;
  const entries: Entry[] = [
    longs(256, width),
    longs(257, height),
    shorts(258, 32), // BitsPerSample
    shorts(259, 8), // Compression: Adobe deflate
    shorts(262, 1), // PhotometricInterpretation: BlackIsZero
    ascii(270, o.description),
    longs(273, ...strips.map(() => 0)), // StripOffsets, filled in below
    shorts(277, 1), // SamplesPerPixel
    longs(278, rps),
    longs(279, ...strips.map((s) => s.length)),
    rationalEntry(282, perX),
    rationalEntry(283, perY),
    shorts(284, 1), // PlanarConfiguration: chunky
    shorts(296, o.mpp ? 3 : 1), // ResolutionUnit: centimetre, or none
    ascii(305, o.software ?? 'wsi-pipeline'),
    shorts(339, 3), // SampleFormat: IEEE float
    doubles(33550, o.stepX, -o.stepY, 0), // ModelPixelScale
    doubles(33922, 0, 0, 0, o.originX, o.originY, 0), // ModelTiepoint
    // GeoKeyDirectory v1.1.0, 2 keys: GTModelType = user-defined (no CRS), GTRasterType = PixelIsArea.
    shorts(34735, 1, 1, 0, 2, 1024, 0, 1, 32767, 1025, 0, 1, 1),
    ascii(42113, 'nan'), // GDAL_NODATA
  ];
  // Layout: header (8) | IFD | out-of-line values | strips.
  const ifdSize = 2 + 12 * entries.length + 4;
  let extra = 8 + ifdSize;
  const offsets = entries.map((e) => {
    if (e.bytes.length <= 4) return -1;
    const at = extra;
    extra += e.bytes.length + (e.bytes.length & 1);
    return at;
  });
  let stripAt = extra;
  const stripOffsets = entries.find((e) => e.tag === 273)!;
  strips.forEach((s, i) => {
    stripOffsets.bytes.writeUInt32LE(stripAt, 4 * i);
    stripAt += s.length;
  });
  const head = Buffer.alloc(extra);
  head.write('II', 0, 'latin1');
  head.writeUInt16LE(42, 2);
  head.writeUInt32LE(8, 4);
  head.writeUInt16LE(entries.length, 8);
  entries.forEach((e, i) => {
    const at = 10 + 12 * i;
    head.writeUInt16LE(e.tag, at);
    head.writeUInt16LE(e.type, at + 2);
    head.writeUInt32LE(e.count, at + 4);
    if (offsets[i] < 0) e.bytes.copy(head, at + 8);
    else {
      head.writeUInt32LE(offsets[i], at + 8);
      e.bytes.copy(head, offsets[i]);
    }
  });
  head.writeUInt32LE(0, 10 + 12 * entries.length); // no next IFD
  return Buffer.concat([head, ...strips]);
}
