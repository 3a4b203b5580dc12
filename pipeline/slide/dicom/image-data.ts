/** Frames of a series' instances by (instance, frame): from files by range, or from a DICOMweb server. */
import type { WsiInstance } from './instance.ts';

export interface ImageData {
  /**
   * Frame `frame` (0-based) of `inst`, as stored (compressed bytes or native samples). May be a view
   * of a recyclable read buffer: callers that keep or hand out the bytes copy them.
   */
  readFrame(inst: WsiInstance, frame: number, signal?: AbortSignal): Promise<Uint8Array>;
  close(): Promise<void>;
}
