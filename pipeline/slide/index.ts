/** Public surface of the slide reader. Import from here, not from the modules behind it. */
export { createByteLru } from './cache.ts';
export { openSlide } from './open.ts';
export { chooseLevel, planRead, type ReadPlan } from './plan.ts';
export type {
  LevelInfo,
  LevelRegion,
  Mpp,
  MppRegion,
  OpenOptions,
  ReadOptions,
  RGBImage,
  Slide,
  SlideFormat,
} from './types.ts';
