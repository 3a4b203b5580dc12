/**
 * `wsi export attention`: per-patch attention of a MIL run, raw (sums to 1 over a slide) and normalised
 * (scaled to [0, 1] per slide), as CSV and as QuPath tiles (GeoJSON polygons with `objectType: 'tile'` and
 * the values as measurements, so Measure › Show measurement maps can colour them).
 */
import { writeFileSync } from 'node:fs';
import { csvLine as csvRow } from '../io/csv.ts';
import { patchesForExport } from '../store/export-queries.ts';
import { type ExportContext, type ExportResult, requireRunId } from './context.ts';
import { outPath, slideStems } from './files.ts';
import {
  boxRing,
  closedRing,
  featureCollection,
  measurements,
  QUPATH_CLASSES,
  type QuPathFeature,
} from './qupath.ts';

const HEADER = [
  'slide_id',
  'slide',
  'x_px',
  'y_px',
  'width_px',
  'height_px',
  'x_um',
  'y_um',
  'attention',
  'attention_norm',
  'score',
];

export function exportAttention(ctx: ExportContext): ExportResult {
  const runId = requireRunId(ctx, 'attention');
  const stems = slideStems(ctx.slides);
  const files: string[] = [];
  const notes: string[] = [];
  for (const slide of ctx.slides) {
    const patches = patchesForExport(ctx.store, runId, slide.id).filter(
      (p) => p.attention !== null || p.attentionNorm !== null,
    );
    if (patches.length === 0) {
      notes.push(`${slide.name}: run ${runId} has no attention on this slide`);
      continue;
    }
    // Normalised attention as the run stored it; when a run kept only raw weights, scale them here.
    const raw = patches.map((p) => p.attention ?? 0);
    const lo = Math.min(...raw);
    const hi = Math.max(...raw);
    const norm = (i: number) => patches[i].attentionNorm ?? (hi > lo ? (raw[i] - lo) / (hi - lo) : 0);
    const mpp = slide.mpp;
    const stem = stems.get(slide.id)!;
    const csv = outPath(ctx.outDir, `${stem}.attention.csv`);
    writeFileSync(
      csv,
      [
        csvRow(HEADER),
        ...patches.map((p, i) =>
          csvRow([
            slide.id,
            slide.name,
            p.x,
            p.y,
            p.width,
            p.height,
            mpp ? p.x * mpp : null,
            mpp ? p.y * mpp : null,
            p.attention,
            norm(i),
            p.score,
          ]),
        ),
      ].join(''),
    );
    const features: QuPathFeature[] = patches.map((p, i) => ({
      type: 'Feature',
      geometry: { type: 'Polygon', coordinates: [closedRing(boxRing(p.x, p.y, p.width, p.height))] },
      properties: {
        objectType: 'tile',
        classification: QUPATH_CLASSES.attention,
        measurements: measurements({
          attention: p.attention,
          'attention (normalised)': norm(i),
          score: p.score,
        }),
      },
    }));
    const geo = outPath(ctx.outDir, `${stem}.attention.geojson`);
    writeFileSync(geo, `${JSON.stringify(featureCollection(features))}\n`);
    files.push(csv, geo);
  }
  return { files, notes };
}
