/**
 * Frames found by one pass over the fragment items, for an empty (or unusable) offset table: reads
 * each item's 8-byte header and the first 4 bytes of its value, never the values themselves. One
 * fragment per frame when the counts agree; otherwise a frame starts at each fragment that opens a
 * codestream (JPEG SOI, JPEG 2000 SOC or JP2 signature).
 */
import { MissingFrameError, SlideFormatError } from '../../../errors.ts';
import { type ByteRange, type FrameIndex, isSequenceDelimiter, itemLength } from './types.ts';

export function opensCodestream(b: Uint8Array): boolean {
  if (b.length < 4) return false;
  if (b[0] === 0xff && (b[1] === 0xd8 || b[1] === 0x4f)) return true;
  return b[0] === 0 && b[1] === 0 && b[2] === 0 && b[3] === 0x0c;
}

export async function scanFragments(
  read: ByteRange,
  firstFragment: number,
  fileSize: number,
  frames: number,
  where: string,
): Promise<FrameIndex> {
  const starts: number[] = [];
  const ends: number[] = [];
  const opens: boolean[] = [];
  let o = firstFragment;
  for (;;) {
    if (o + 8 > fileSize) break; // no sequence delimiter: a truncated file (checked below)
    const head = await read(o, Math.min(12, fileSize - o));
    if (isSequenceDelimiter(head, 0)) break;
    const len = itemLength(head, 0);
    if (len === undefined)
      throw new SlideFormatError(`${where}: corrupt encapsulated pixel data at byte ${o}`);
    if (o + 8 + len > fileSize) {
      throw new SlideFormatError(`${where}: file is truncated (fragment at byte ${o} runs past the end)`);
    }
    starts.push(o);
    ends.push(o + 8 + len);
    opens.push(opensCodestream(head.subarray(8)));
    o += 8 + len;
  }
  const start = new Float64Array(frames);
  const end = new Float64Array(frames);
  if (starts.length === frames) {
    start.set(starts);
    end.set(ends);
    return { encapsulated: true, start, end };
  }
  let f = -1;
  for (let i = 0; i < starts.length; i++) {
    if (opens[i] || f < 0) {
      f++;
      if (f >= frames) break;
      start[f] = starts[i];
    }
    end[f] = ends[i];
  }
  if (f + 1 < frames) {
    throw new MissingFrameError(
      `${where}: the pixel data holds ${f + 1} of its ${frames} frames (missing frames or a truncated file)`,
    );
  }
  return { encapsulated: true, start, end };
}
