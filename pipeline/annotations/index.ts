/** Public surface of annotations: ASAP XML and GeoJSON in/out, rasterisation and point-in-polygon. */
export { parseAsapXml, toAsapXml } from './asap.ts';
export { ANNOTATION_EXTENSIONS, findAnnotationFile, readAnnotationFile } from './files.ts';
export { type GeoJsonOptions, parseGeoJson, toGeoJson } from './geojson.ts';
export {
  type BBox,
  boundsOf,
  type Point,
  pointInRings,
  type RasterGrid,
  type Ring,
  rasterizeRings,
} from './raster.ts';
export { type Annotation, type AnnotationClass, type AnnotationGeometry, classOf } from './types.ts';
