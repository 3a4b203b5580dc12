/** Where each frame of an instance lies in its file. */
export interface FrameIndex {
  /** Encapsulated frames are item streams (headers to strip); native frames are raw bytes. */
  encapsulated: boolean;
  /** File offset where frame i starts (its first item header, or its first pixel byte). */
  start: Float64Array;
  /** Where it ends; NaN for a last frame whose end only its item header says (basic offset table). */
  end: Float64Array;
}

export type ByteRange = (offset: number, length: number) => Promise<Uint8Array>;

/** An item header (FFFE,E000 + length) at buf[o]; undefined if something else is there. */
export function itemLength(buf: Uint8Array, o: number): number | undefined {
  if (o + 8 > buf.length) return undefined;
  if (buf[o] !== 0xfe || buf[o + 1] !== 0xff || buf[o + 2] !== 0x00 || buf[o + 3] !== 0xe0) return undefined;
  return new DataView(buf.buffer, buf.byteOffset + o, 8).getUint32(4, true);
}

export function isSequenceDelimiter(buf: Uint8Array, o: number): boolean {
  return (
    o + 4 <= buf.length &&
    buf[o] === 0xfe &&
    buf[o + 1] === 0xff &&
    buf[o + 2] === 0xdd &&
    buf[o + 3] === 0xe0
  );
}
