/**
 * Frames from the Extended Offset Table (7FE0,0001) and its lengths (7FE0,0002): 64-bit offsets
 * relative to the first fragment, and each frame's length (one fragment per frame, PS3.5 A.4).
 */
import type { FrameIndex } from './types.ts';

export function extendedOffsetTableIndex(
  offsets: readonly number[],
  lengths: readonly number[],
  firstFragment: number,
  frames: number,
): FrameIndex | undefined {
  if (offsets.length !== frames || lengths.length !== frames) return undefined;
  const start = new Float64Array(frames);
  const end = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    start[i] = firstFragment + offsets[i];
    end[i] = start[i] + 8 + lengths[i];
  }
  return { encapsulated: true, start, end };
}
