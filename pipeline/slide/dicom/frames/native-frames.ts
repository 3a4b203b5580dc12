/** Native (uncompressed) pixel data: frame i is the i-th run of rows × columns × samples bytes. */
import { SlideFormatError } from '../../../errors.ts';
import type { FrameIndex } from './types.ts';

export function nativeFrameIndex(
  valueOffset: number,
  valueLength: number,
  frames: number,
  frameBytes: number,
  where: string,
): FrameIndex {
  if (valueLength < frames * frameBytes) {
    throw new SlideFormatError(
      `${where}: pixel data holds ${valueLength} bytes, ${frames} frames of ${frameBytes} need ${frames * frameBytes}`,
    );
  }
  const start = new Float64Array(frames);
  const end = new Float64Array(frames);
  for (let i = 0; i < frames; i++) {
    start[i] = valueOffset + i * frameBytes;
    end[i] = start[i] + frameBytes;
  }
  return { encapsulated: false, start, end };
}
