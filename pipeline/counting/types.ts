/** Plain values passed between the counting steps. Images are row-major; (x, y) are pixels of the counted image. */

/** One channel as floats, row-major. Foreground (nuclei) is bright after channel choice. */
export interface GrayImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** Interleaved 8-bit pixels (as the slide reader's RGBImage). */
export interface PixelImage {
  data: Uint8Array;
  width: number;
  height: number;
  channels: number;
}

export interface Cell {
  x: number;
  y: number;
  /** Pixels; undefined for density peaks. */
  area?: number;
  score?: number;
}

export interface CountResult {
  count: number;
  cells: Cell[];
  /** Mean cell area in pixels (undefined when there are no areas). */
  meanArea?: number;
}

export interface SegmentationResult extends CountResult {
  /** Instance labels 1..count, 0 = background. */
  labels: Int32Array;
  width: number;
  height: number;
}
