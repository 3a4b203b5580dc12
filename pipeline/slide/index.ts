/**
 * Public surface of the slide reader. Import from here, not from the modules behind it.
 *
 *   const slide = await openSlide('slide.svs' | 'https://host/slide.svs' | 'image.png' | 'instance.dcm' |
 *                                 'dicom-series-folder/' | 'https://host/dicom-web/studies/S/series/R',
 *                                 { mpp?, fallbackMpp?, cacheBytes? })
 *   slide.levels            [{ width, height, downsample, tileWidth, tileHeight }], 0 = full resolution
 *   slide.mpp               { x, y } µm/px at level 0, or undefined when the file does not say
 *   slide.readRegion({ x, y, width, height, level })   x, y level-0 px; size in that level's px; RGB, 3 channels
 *   slide.readAt({ x, y, width, height, mpp })         output px at mpp µm/px (MissingResolutionError without MPP)
 *   slide.readTile(level, col, row), slide.thumbnail(maxSize), slide.readAssociatedImage('label')
 *   slide.readRawTile?.(level, col, row)   interior JPEG tile as a standalone .jpg ({ bytes, mime }) or undefined
 *   await slide.close()
 *
 * Areas outside the image are white. Errors are the named classes of pipeline/errors.ts. Decoded
 * tiles are cached per slide (default 256 MiB, `cacheBytes`). In Piscina workers use
 * workers/read-region.ts or open slides once per worker and keep them.
 */
export { createByteLru } from './cache.ts';
export { isDicomSeriesFolder } from './dicom/series-folder.ts';
export { openSlide } from './open.ts';
export { createOpenSlideCache, type OpenSlideCache } from './open-cache.ts';
export { chooseLevel, planRead, type ReadPlan } from './plan.ts';
export type {
  LevelInfo,
  LevelRegion,
  Mpp,
  MppRegion,
  OpenOptions,
  RawTile,
  ReadOptions,
  RGBImage,
  Slide,
  SlideFormat,
} from './types.ts';
