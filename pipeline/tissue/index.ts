/** Public surface of tissue detection. */
export { signedArea, traceRegions } from './contours.ts';
export { detectTissue, maskDownsample, maskFromImage, readMaskImage, TISSUE_DEFAULTS } from './detect.ts';
export { type LevelRect, tissueAreaPx, tissueFraction } from './fraction.ts';
export { tissueGeoJson } from './geojson.ts';
export { overlayImage, writeMaskPng, writeOverlayPng } from './overlay.ts';
export { otsuThreshold, saturation } from './threshold.ts';
export type { Ring, TissueMask, TissueOptions, TissueRegion } from './types.ts';
