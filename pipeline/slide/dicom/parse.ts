/**
 * A small DICOM Part 10 parser for a file's header: the preamble, the file meta group and the
 * dataset up to Pixel Data, in explicit or implicit VR little endian, with sequences of defined or
 * undefined length. It parses a prefix of the file and says when it needs more bytes (NeedMoreBytes),
 * so callers read the header by ranges and never the pixel data.
 */
import type { Dataset, DicomElement, DicomValue } from './dataset.ts';
import { hasPreamble } from './preamble.ts';
import { IMPLICIT_VR, T } from './tags.ts';

export const IMPLICIT_VR_LE = '1.2.840.10008.1.2';

/** The parse ran past the bytes it was given: read at least `needed` bytes from the start and retry. */
export class NeedMoreBytes extends Error {
  readonly needed: number;
  constructor(needed: number) {
    super(`need ${needed} bytes`);
    this.needed = needed;
  }
}

/** Not DICOM Part 10, or a structure we refuse: the message says what was found. */
export class DicomParseError extends Error {}

export interface PixelDataInfo {
  /** File offset of the Pixel Data element's value. */
  valueOffset: number;
  /** Value length in bytes, or undefined for undefined length (encapsulated). */
  length: number | undefined;
  vr: string;
}

export interface ParsedHeader {
  meta: Dataset;
  dataset: Dataset;
  transferSyntax: string;
  /** Undefined when the dataset has no Pixel Data. */
  pixelData: PixelDataInfo | undefined;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);
const STRING_VRS = new Set([
  'AE',
  'AS',
  'CS',
  'DA',
  'DS',
  'DT',
  'IS',
  'LO',
  'LT',
  'PN',
  'SH',
  'ST',
  'TM',
  'UC',
  'UI',
  'UR',
  'UT',
]);
const UNDEFINED = 0xffffffff;
const MAX_DEPTH = 16;

class Cursor {
  readonly view: DataView;
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    pos: number,
    /** The whole file is in buf: running out of bytes means the file is truncated. */
    readonly complete: boolean,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.pos = pos;
  }
  need(n: number): void {
    if (this.pos + n > this.buf.length) {
      if (this.complete)
        throw new DicomParseError(`file is truncated at byte ${this.buf.length} (header cut short)`);
      throw new NeedMoreBytes(this.pos + n);
    }
  }
  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  tag(): number {
    const g = this.u16();
    const e = this.u16();
    return ((g << 16) | e) >>> 0;
  }
  vr(): string {
    this.need(2);
    const s = String.fromCharCode(this.buf[this.pos], this.buf[this.pos + 1]);
    this.pos += 2;
    return s;
  }
}

function decodeValue(vr: string, bytes: Uint8Array): DicomValue {
  if (STRING_VRS.has(vr)) {
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return s.replace(/[\0 ]+$/, '').replace(/^ +/, '');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nums = (size: number, get: (o: number) => number): number[] => {
    const out: number[] = [];
    for (let o = 0; o + size <= bytes.length; o += size) out.push(get(o));
    return out;
  };
  switch (vr) {
    case 'US':
      return nums(2, (o) => dv.getUint16(o, true));
    case 'SS':
      return nums(2, (o) => dv.getInt16(o, true));
    case 'UL':
      return nums(4, (o) => dv.getUint32(o, true));
    case 'SL':
      return nums(4, (o) => dv.getInt32(o, true));
    case 'FL':
      return nums(4, (o) => dv.getFloat32(o, true));
    case 'FD':
      return nums(8, (o) => dv.getFloat64(o, true));
    case 'AT':
      return nums(4, (o) => ((dv.getUint16(o, true) << 16) | dv.getUint16(o + 2, true)) >>> 0);
    case 'UV':
    case 'OV':
      return nums(8, (o) => Number(dv.getBigUint64(o, true)));
    case 'SV':
      return nums(8, (o) => Number(dv.getBigInt64(o, true)));
    default:
      return bytes;
  }
}

interface ParseContext {
  explicit: boolean;
  /** Stop at top-level Pixel Data and report where it is. */
  pixelData?: PixelDataInfo;
  /** File offset of buf[0]. */
  base: number;
}

function readElementHeader(c: Cursor, explicit: boolean): { t: number; vr: string; length: number } {
  const t = c.tag();
  if (t === T.Item || t === T.ItemDelimitation || t === T.SequenceDelimitation) {
    return { t, vr: '', length: c.u32() };
  }
  if (!explicit) return { t, vr: IMPLICIT_VR.get(t) ?? 'UN', length: c.u32() };
  const vr = c.vr();
  if (!/^[A-Z]{2}$/.test(vr)) {
    throw new DicomParseError(`invalid VR at byte ${c.pos - 2} (not explicit VR little endian?)`);
  }
  if (LONG_VRS.has(vr)) {
    c.u16();
    return { t, vr, length: c.u32() };
  }
  return { t, vr, length: c.u16() };
}

/** Items of a sequence (defined or undefined length), each parsed as a dataset. */
function parseSequence(
  c: Cursor,
  length: number,
  explicit: boolean,
  depth: number,
  ctx: ParseContext,
): Dataset[] {
  if (depth > MAX_DEPTH) throw new DicomParseError('sequences nested too deeply (corrupt file)');
  const items: Dataset[] = [];
  const end = length === UNDEFINED ? Number.POSITIVE_INFINITY : c.pos + length;
  while (c.pos < end) {
    const t = c.tag();
    const itemLength = c.u32();
    if (t === T.SequenceDelimitation) break;
    if (t !== T.Item) throw new DicomParseError(`expected a sequence item at byte ${ctx.base + c.pos - 8}`);
    const itemEnd = itemLength === UNDEFINED ? Number.POSITIVE_INFINITY : c.pos + itemLength;
    items.push(parseDataset(c, itemEnd, explicit, depth + 1, ctx, false));
  }
  return items;
}

function parseDataset(
  c: Cursor,
  end: number,
  explicit: boolean,
  depth: number,
  ctx: ParseContext,
  topLevel: boolean,
): Dataset {
  const ds: Dataset = new Map();
  while (c.pos < end) {
    if (topLevel && c.complete && c.pos >= c.buf.length) break;
    const at = c.pos;
    const h = readElementHeader(c, explicit);
    if (h.t === T.ItemDelimitation) break;
    if (topLevel && h.t === T.PixelData) {
      ctx.pixelData = {
        valueOffset: ctx.base + c.pos,
        length: h.length === UNDEFINED ? undefined : h.length,
        vr: h.vr,
      };
      return ds;
    }
    let el: DicomElement;
    if (h.vr === 'SQ' || (h.length === UNDEFINED && (h.vr === 'UN' || !explicit))) {
      // UN of undefined length is an implicit-VR sequence (PS3.5 6.2.2).
      const inner = h.vr === 'SQ' ? explicit : false;
      el = { vr: 'SQ', value: parseSequence(c, h.length, inner, depth, ctx) };
    } else {
      if (h.length === UNDEFINED) {
        throw new DicomParseError(`element (${hex(h.t)}) at byte ${ctx.base + at} has undefined length`);
      }
      c.need(h.length);
      el = { vr: h.vr, value: decodeValue(h.vr, c.buf.subarray(c.pos, c.pos + h.length)) };
      c.pos += h.length;
    }
    ds.set(h.t, el);
  }
  return ds;
}

function hex(t: number): string {
  const s = t.toString(16).padStart(8, '0').toUpperCase();
  return `${s.slice(0, 4)},${s.slice(4)}`;
}

/**
 * Parses the header from `buf` (the file's first bytes). `complete` says buf holds the whole file.
 * Throws NeedMoreBytes when buf ends before Pixel Data, DicomParseError when it is not DICOM.
 */
export function parseHeader(buf: Uint8Array, complete: boolean): ParsedHeader {
  if (!hasPreamble(buf)) {
    if (!complete && buf.length < 132) throw new NeedMoreBytes(132);
    throw new DicomParseError('no DICM preamble');
  }
  const c = new Cursor(buf, 132, complete);
  const meta: Dataset = new Map();
  // File meta group (0002): explicit VR little endian, always.
  for (;;) {
    c.need(2);
    if (c.view.getUint16(c.pos, true) !== 0x0002) break;
    const h = readElementHeader(c, true);
    c.need(h.length);
    meta.set(h.t, { vr: h.vr, value: decodeValue(h.vr, c.buf.subarray(c.pos, c.pos + h.length)) });
    c.pos += h.length;
  }
  const ts = meta.get(T.TransferSyntaxUID)?.value;
  const transferSyntax = typeof ts === 'string' ? ts : IMPLICIT_VR_LE;
  if (transferSyntax === '1.2.840.10008.1.2.2' || transferSyntax === '1.2.840.10008.1.2.1.99') {
    // Big endian and deflated datasets need a different parser; the caller names the syntax.
    return { meta, dataset: new Map(), transferSyntax, pixelData: undefined };
  }
  const ctx: ParseContext = { explicit: transferSyntax !== IMPLICIT_VR_LE, base: 0 };
  const dataset = parseDataset(c, Number.POSITIVE_INFINITY, ctx.explicit, 0, ctx, true);
  return { meta, dataset, transferSyntax, pixelData: ctx.pixelData };
}
