/**
 * `wsi export heatmap`: a run's patch values as a one-pixel-per-patch 16-bit PNG (0 = no patch, else
 * 1 + round(value · 65534) for values in [0, 1]) whose tEXt chunks and JSON sidecar record the level-0
 * origin, the cell stride and the patch size; and the regions at or above `threshold` as polygons with
 * holes (QuPath GeoJSON and ASAP XML).
 */
import { writeFileSync } from 'node:fs';
import { type ExportPatch, patchesForExport } from '../store/export-queries.ts';
import { type ExportContext, type ExportResult, requireRunId } from './context.ts';
import { outPath, slideStems } from './files.ts';
import { gridValues, type PatchGrid, patchGrid } from './grid.ts';
import { encodePng16 } from './png16.ts';
import { QUPATH_CLASSES } from './qupath.ts';
import { writeRegions } from './region-writers.ts';
import { gridPolygons, type PolygonWithHoles } from './regions.ts';

export type HeatmapValue = 'score' | 'attention';

export interface HeatmapExportOptions {
  value: HeatmapValue;
  threshold: number;
}

export function patchValue(p: ExportPatch, value: HeatmapValue): number | null {
  return value === 'score' ? p.score : (p.attentionNorm ?? p.attention);
}

/** The sidecar (and PNG tEXt) description of where a heatmap lies on its slide. */
export function heatmapMeta(
  grid: PatchGrid,
  slide: { id: string; name: string; mpp: number | null },
  value: string,
) {
  return {
    slideId: slide.id,
    slide: slide.name,
    value,
    originX: grid.originX,
    originY: grid.originY,
    stride: grid.stride,
    patchWidth: grid.patchWidth,
    patchHeight: grid.patchHeight,
    columns: grid.columns,
    rows: grid.rows,
    mpp: slide.mpp,
    encoding: 'uint16: 0 = no patch, else value = (pixel - 1) / 65534',
    pixel:
      'pixel (i, j) covers level-0 [originX + i*stride, originX + (i+1)*stride) x [originY + j*stride, ...)',
  };
}

/** Cells at or above the threshold as polygons in level-0 px. */
export function thresholdRegions(
  grid: PatchGrid,
  values: Float32Array,
  threshold: number,
): PolygonWithHoles[] {
  const mask = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) mask[i] = values[i] >= threshold ? 1 : 0;
  return gridPolygons(mask, grid);
}

export function exportHeatmap(ctx: ExportContext, o: HeatmapExportOptions): ExportResult {
  const runId = requireRunId(ctx, 'heatmap');
  const stems = slideStems(ctx.slides);
  const files: string[] = [];
  const notes: string[] = [];
  for (const slide of ctx.slides) {
    const stem = stems.get(slide.id)!;
    const patches = patchesForExport(ctx.store, runId, slide.id)
      .map((p) => ({ ...p, value: patchValue(p, o.value) }))
      .filter((p): p is ExportPatch & { value: number } => p.value !== null);
    if (patches.length === 0) {
      notes.push(`${slide.name}: run ${runId} has no patch ${o.value} on this slide`);
      continue;
    }
    const grid = patchGrid(patches);
    const values = gridValues(grid, patches);
    const samples = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      samples[i] = Number.isNaN(v) ? 0 : 1 + Math.round(Math.min(1, Math.max(0, v)) * 65534);
    }
    const meta = heatmapMeta(grid, slide, o.value);
    const png = outPath(ctx.outDir, `${stem}.${o.value}.png`);
    writeFileSync(
      png,
      encodePng16(grid.columns, grid.rows, samples, {
        Software: 'wsi-pipeline',
        Description: JSON.stringify(meta),
      }),
    );
    writeFileSync(outPath(ctx.outDir, `${stem}.${o.value}.json`), `${JSON.stringify(meta, null, 2)}\n`);
    files.push(png, outPath(ctx.outDir, `${stem}.${o.value}.json`));
    const polygons = thresholdRegions(grid, values, o.threshold);
    const tumour = o.value === 'score';
    files.push(
      ...writeRegions(
        {
          label: tumour ? 'Tumor region' : 'Attention region',
          classification: tumour ? QUPATH_CLASSES.tumour : QUPATH_CLASSES.attention,
          polygons,
          mpp: slide.mpp,
        },
        outPath(ctx.outDir, `${stem}.${tumour ? 'tumour' : 'attention'}-regions`),
        tumour,
      ),
    );
    if (polygons.length === 0) notes.push(`${slide.name}: no ${o.value} at or above ${o.threshold}`);
  }
  return { files, notes };
}
