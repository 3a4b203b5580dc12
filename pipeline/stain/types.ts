/**
 * Stain estimates: what a normaliser learns from a slide (or a reference region) and what a model stores
 * as its target. Plain JSON, so a target travels in a model's sidecar and in worker messages.
 */

export type StainMethod = 'reinhard' | 'macenko' | 'vahadane';
export const STAIN_METHODS: readonly StainMethod[] = ['reinhard', 'macenko', 'vahadane'];

export type Vec3 = [number, number, number];

/** Reinhard et al. 2001: per-channel mean and standard deviation of the tissue in CIE L*a*b*. */
export interface LabStats {
  method: 'reinhard';
  mean: Vec3;
  std: Vec3;
}

/**
 * Macenko et al. 2009 / Vahadane et al. 2016: unit optical-density vectors of haematoxylin and eosin, the
 * 99th percentile of each stain's concentration in the tissue, and the light through bare glass.
 */
export interface StainMatrix {
  method: 'macenko' | 'vahadane';
  /** Unit OD vectors (R, G, B): haematoxylin first. */
  h: Vec3;
  e: Vec3;
  /** 99th percentile of the H and E concentrations over the tissue pixels. */
  maxConc: [number, number];
  /** Per-channel intensity of bare glass (0–255): the Beer–Lambert I₀. */
  background: Vec3;
}

export type StainEstimate = LabStats | StainMatrix;

/** Maps one tile's RGB(A) pixels to the target's stain; returns a new RGB buffer (3 channels). */
export type TileNormaliser = (pixels: Uint8Array, channels: number) => Uint8Array;
