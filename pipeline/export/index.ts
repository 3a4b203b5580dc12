/** Public surface of exports: store → files other tools read. One module per kind. */
export { type AnnotationExportOptions, exportAnnotations } from './annotations.ts';
export { exportAttention } from './attention.ts';
export { type CellExportOptions, type CellShape, exportCells } from './cells.ts';
export type { ExportContext, ExportResult } from './context.ts';
export { type DetectionExportOptions, exportDetections } from './detections.ts';
export { exportHeatmap, type HeatmapExportOptions, type HeatmapValue } from './heatmap.ts';
export { gridPolygons, maskPolygons, type PolygonWithHoles, splitAtRepeatedVertices } from './regions.ts';
export { exportSlides, metastasisClass, pnStage } from './slides.ts';
export { exportTissue } from './tissue.ts';
