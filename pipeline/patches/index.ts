/** Public surface of patch grids and labels (samplers live in ./samplers/). */
export { checkGridSpec, type GridGeometry, gridGeometry, planGrid } from './grid.ts';
export { type CentreRegion, centreRegion, labelPatches } from './labels.ts';
export { readPatch } from './read.ts';
export type { GridSpec, LabelOptions, PatchResolution, PatchSpec } from './types.ts';
