/**
 * Task payloads and results as JSON for BullMQ, and back, unchanged: typed arrays and ArrayBuffers become
 * tagged base64 objects, NaN/±Infinity/-0 tagged numbers, and a Piscina.move() wrapper (what task files
 * return for the local pool) its value. `decode(JSON.parse(JSON.stringify(encode(v))))` equals `v`.
 */
import { Piscina } from 'piscina';

type TypedArray =
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

const TYPED: Record<string, new (b: ArrayBuffer) => TypedArray> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

const TAG = '$wsi';

function unwrapMoved(v: object): unknown {
  const sym = Piscina.valueSymbol;
  return sym in v ? (v as Record<symbol, unknown>)[sym] : v;
}

export function encode(value: unknown): unknown {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { [TAG]: 'num', v: 'NaN' };
    if (!Number.isFinite(value)) return { [TAG]: 'num', v: value > 0 ? 'Inf' : '-Inf' };
    if (Object.is(value, -0)) return { [TAG]: 'num', v: '-0' };
    return value;
  }
  if (value === null || typeof value !== 'object') return value;
  const v = unwrapMoved(value);
  if (v !== value) return encode(v);
  if (ArrayBuffer.isView(value)) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    const type = value.constructor.name;
    if (!(type in TYPED) && type !== 'Buffer' && type !== 'DataView') {
      throw new TypeError(`cannot encode ${type} for the queue`);
    }
    return { [TAG]: 'ta', t: type === 'Buffer' ? 'Uint8Array' : type, b: bytes.toString('base64') };
  }
  if (value instanceof ArrayBuffer) return { [TAG]: 'ab', b: Buffer.from(value).toString('base64') };
  if (Array.isArray(value)) return value.map(encode);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(value)) if (x !== undefined) out[k] = encode(x);
  return out;
}

function bufferOf(b64: string): ArrayBuffer {
  const bytes = Buffer.from(b64, 'base64');
  const ab = new ArrayBuffer(bytes.length);
  new Uint8Array(ab).set(bytes);
  return ab;
}

export function decode(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(decode);
  const o = value as Record<string, unknown>;
  switch (o[TAG]) {
    case 'num':
      return o.v === 'NaN' ? Number.NaN : o.v === 'Inf' ? Infinity : o.v === '-Inf' ? -Infinity : -0;
    case 'ab':
      return bufferOf(String(o.b));
    case 'ta': {
      const t = String(o.t);
      if (t === 'DataView') return new DataView(bufferOf(String(o.b)));
      const Ctor = TYPED[t];
      if (!Ctor) throw new TypeError(`unknown typed array '${t}' in a queue message`);
      return new Ctor(bufferOf(String(o.b)));
    }
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = decode(x);
  return out;
}
