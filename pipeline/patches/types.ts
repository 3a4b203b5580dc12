/** Patch grids: what to cut (resolution, size, stride, tissue floor) and the patches it gives. */

/** Patch pixels at a physical resolution (µm/px) or at a pyramid level's own pixels. */
export type PatchResolution = { mpp: number } | { level: number };

export interface GridSpec {
  resolution: PatchResolution;
  /** Patch side in output pixels. */
  size: number;
  /** Step between patch origins in output pixels (default: size, no overlap). */
  stride?: number;
  /** Keep patches whose tissue fraction is at least this (0–1, default 0.5); 0 keeps every patch. */
  minTissue?: number;
}

export interface PatchSpec {
  /** Level-0 top-left and extent (rounded to whole level-0 pixels). */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Pyramid level the pixels are read from. */
  level: number;
  /** µm/px of the patch pixels; null when read by level on a slide without MPP. */
  mpp: number | null;
  /** Tissue fraction of the level-0 rectangle, from the tissue mask. */
  tissue: number;
}

export interface LabelOptions {
  /**
   * Side of the centre region, in patch pixels, that decides the label (default 32, as PatchCamelyon:
   * positive when that region holds at least one tumour pixel).
   */
  centreSize?: number;
}
