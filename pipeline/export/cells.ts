/**
 * `wsi export cells`: cells of a counting run as QuPath detections (GeoJSON; points, or circles of the
 * cell's area when asked for polygons, since the store keeps centres and areas, not contours) and as CSV
 * (x, y in level-0 px and µm, area in px² and µm², score).
 */

import { csvLine as csvRow } from '../io/csv.ts';
import { cellsForExport } from '../store/export-queries.ts';
import { type ExportContext, type ExportResult, requireRunId } from './context.ts';
import { outPath, slideStems, TextSink } from './files.ts';
import { closedRing, measurements, QUPATH_CLASSES, type QuPathFeature } from './qupath.ts';

export type CellShape = 'point' | 'circle';

export interface CellExportOptions {
  shape: CellShape;
}

const CSV_HEADER = [
  'slide_id',
  'slide',
  'cell_id',
  'x_px',
  'y_px',
  'x_um',
  'y_um',
  'area_px',
  'area_um2',
  'score',
];

function circle(x: number, y: number, areaPx: number): [number, number][] {
  const r = Math.sqrt(Math.max(areaPx, 1) / Math.PI);
  const ring: [number, number][] = [];
  for (let k = 0; k < 16; k++) {
    const a = (k / 16) * 2 * Math.PI;
    ring.push([Math.round((x + r * Math.cos(a)) * 100) / 100, Math.round((y + r * Math.sin(a)) * 100) / 100]);
  }
  return closedRing(ring);
}

export function exportCells(ctx: ExportContext, o: CellExportOptions): ExportResult {
  const runId = requireRunId(ctx, 'cells');
  const stems = slideStems(ctx.slides);
  const files: string[] = [];
  const notes: string[] = [];
  for (const slide of ctx.slides) {
    const stem = stems.get(slide.id)!;
    const csv = new TextSink(outPath(ctx.outDir, `${stem}.cells.csv`));
    const geo = new TextSink(outPath(ctx.outDir, `${stem}.cells.geojson`));
    csv.write(csvRow(CSV_HEADER));
    geo.write('{"type":"FeatureCollection","features":[\n');
    const mpp = slide.mpp;
    const um2 = mpp ? mpp * mpp : null;
    let n = 0;
    for (const c of cellsForExport(ctx.store, runId, slide.id)) {
      csv.write(
        csvRow([
          slide.id,
          slide.name,
          c.id,
          c.x,
          c.y,
          mpp ? c.x * mpp : null,
          mpp ? c.y * mpp : null,
          c.area,
          c.area !== null && um2 ? c.area * um2 : null,
          c.score,
        ]),
      );
      const feature: QuPathFeature = {
        type: 'Feature',
        id: `${slide.id.slice(0, 12)}-${c.id}`,
        geometry:
          o.shape === 'circle' && c.area !== null
            ? { type: 'Polygon', coordinates: [circle(c.x, c.y, c.area)] }
            : { type: 'Point', coordinates: [c.x, c.y] },
        properties: {
          objectType: 'detection',
          isLocked: true,
          classification: QUPATH_CLASSES.nucleus,
          measurements: measurements({
            score: c.score,
            'Area px^2': c.area,
            'Area µm^2': c.area !== null && um2 ? c.area * um2 : null,
          }),
        },
      };
      geo.write(`${n > 0 ? ',\n' : ''}${JSON.stringify(feature)}`);
      n++;
    }
    geo.write('\n]}\n');
    csv.close();
    geo.close();
    files.push(csv.path, geo.path);
    if (!mpp) notes.push(`${slide.name}: no µm/px recorded, µm columns left empty`);
    if (n === 0) notes.push(`${slide.name}: run ${runId} has no cells on this slide`);
  }
  return { files, notes };
}
