/** Public surface of stain normalisation (Reinhard, Macenko, Vahadane) and stain-space augmentation. */
export {
  checkStainEstimate,
  createTileNormaliser,
  estimateBackground,
  estimateStain,
  parseStainMethod,
} from './estimate.ts';
export { angleDeg } from './linalg.ts';
export { referenceTarget } from './reference.ts';
export { estimateSlideStain, sampleSlideTissue, type TissueSample, tissueSelector } from './slide.ts';
export {
  type LabStats,
  STAIN_METHODS,
  type StainEstimate,
  type StainMatrix,
  type StainMethod,
  type TileNormaliser,
  type Vec3,
} from './types.ts';
