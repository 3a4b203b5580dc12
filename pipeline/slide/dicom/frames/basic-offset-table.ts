/**
 * Frames from the Basic Offset Table (the first item of encapsulated pixel data): one offset per
 * frame, relative to the first fragment. A frame runs to the next frame's offset; the last one's end
 * is what its item header says (read with the frame).
 */
import type { FrameIndex } from './types.ts';

/** Undefined when the table does not have exactly one entry per frame (then the caller scans). */
export function basicOffsetTableIndex(
  table: Uint8Array,
  firstFragment: number,
  frames: number,
): FrameIndex | undefined {
  if (table.length !== frames * 4) return undefined;
  const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const start = new Float64Array(frames);
  const end = new Float64Array(frames);
  for (let i = 0; i < frames; i++) start[i] = firstFragment + dv.getUint32(i * 4, true);
  for (let i = 0; i < frames; i++) {
    end[i] = i + 1 < frames ? start[i + 1] : Number.NaN;
    if (i > 0 && !(start[i] > start[i - 1])) return undefined; // not increasing: distrust it
  }
  return { encapsulated: true, start, end };
}
