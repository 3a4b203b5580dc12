/** Types of the tissue mask: a bitmap at a low resolution plus its outline as polygons in level-0 pixels. */

export type Ring = Array<[number, number]>;

/** One connected piece of tissue: its outer boundary and the holes left open inside it. */
export interface TissueRegion {
  outer: Ring;
  holes: Ring[];
}

export interface TissueMask {
  width: number;
  height: number;
  /** 0/1 per mask pixel, row-major. */
  data: Uint8Array;
  /** Level-0 pixels per mask pixel. */
  downsample: number;
  /**
   * Every boundary ring (outer boundaries and holes) in level-0 pixels, on mask-pixel edges.
   * Fill them together with the even-odd rule to get the mask back; `regions` groups them per piece.
   */
  polygons: Ring[];
  regions: TissueRegion[];
  /** Saturation threshold (0–255) Otsu chose (after the floor). */
  threshold: number;
  /** µm per mask pixel when the slide's MPP is known. */
  umPerPixel: number | undefined;
}

/** Tunable parameters; sizes are physical so the same defaults work at any mask resolution. */
export interface TissueOptions {
  /** Mask resolution in µm/px (default 8); the mask is never coarser than `minSide` px on its long side. */
  targetMpp?: number;
  /** Smallest long side of the mask in pixels (default 1024), so small slides keep detail. */
  minSide?: number;
  /** Largest long side of the mask in pixels (default 8192), so huge slides stay bounded. */
  maxSide?: number;
  /** Level-0 µm/px to assume when the slide does not say (default 0.5, a 20× scan). */
  assumeMpp?: number;
  /** Lowest saturation threshold (0–255, default 15): a blank slide is not split into tissue by its noise. */
  minThreshold?: number;
  /** Radius of the closing that joins nearby stained fibres, µm (default 8). */
  closeUm?: number;
  /** Radius of the opening that removes thin specks, µm (default 4). */
  openUm?: number;
  /** Pieces of tissue smaller than this are removed, µm² (default 10,000: 100 × 100 µm). */
  minRegionUm2?: number;
  /** Holes smaller than this are filled, µm² (default 10,000: 100 × 100 µm); larger ones stay open. */
  maxHoleUm2?: number;
}
