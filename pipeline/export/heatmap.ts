/**
 * `wsi export heatmap`: a run's patch values on the shared patch lattice (pipeline/patches/lattice.ts, the
 * viewer's heatmap pixels), one pixel per cell, as a 16-bit PNG (0 = no patch, else 1 + round(value · 65534)
 * for values in [0, 1]) and/or a 32-bit float TIFF (the values exactly, NaN where no patch is), each
 * recording the level-0 origin, the cell steps, the patch size and µm/px (PNG tEXt, TIFF tags, and a JSON
 * sidecar); and the regions at or above `threshold` as polygons with holes (QuPath GeoJSON and ASAP XML).
 */
import { writeFileSync } from 'node:fs';
import { latticeValues } from '../patches/lattice.ts';
import { type ExportPatch, patchesForExport } from '../store/export-queries.ts';
import { type ExportContext, type ExportResult, requireRunId } from './context.ts';
import { outPath, slideStems } from './files.ts';
import { type PatchGrid, patchGrid } from './grid.ts';
import { encodePng16 } from './png16.ts';
import { QUPATH_CLASSES } from './qupath.ts';
import { writeRegions } from './region-writers.ts';
import { gridPolygons, type PolygonWithHoles } from './regions.ts';
import { encodeFloat32Tiff } from './tiff32.ts';

export type HeatmapValue = 'score' | 'attention';
export type HeatmapFormat = 'png' | 'tiff' | 'both';

export interface HeatmapExportOptions {
  value: HeatmapValue;
  threshold: number;
  /** Image format(s); default both. */
  format?: HeatmapFormat;
}

export function patchValue(p: ExportPatch, value: HeatmapValue): number | null {
  return value === 'score' ? p.score : (p.attentionNorm ?? p.attention);
}

/** The sidecar (and PNG tEXt / TIFF ImageDescription) description of where a heatmap lies on its slide. */
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
    strideX: grid.stepX,
    strideY: grid.stepY,
    // One stride when the cells are square (most runs), for readers of the earlier single-stride sidecar.
    stride: grid.stepX === grid.stepY ? grid.stepX : null,
    patchWidth: grid.patchWidth,
    patchHeight: grid.patchHeight,
    patchSizes: grid.patchSizes,
    columns: grid.columns,
    rows: grid.rows,
    mpp: slide.mpp,
    encoding: {
      png: 'uint16: 0 = no patch, else value = (pixel - 1) / 65534',
      tiff: 'float32: the value, NaN = no patch',
    },
    pixel:
      'pixel (i, j) covers level-0 [originX + i*strideX, originX + (i+1)*strideX) x [originY + j*strideY, ...), centred on its patches',
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
    const values = latticeValues(grid, patches);
    const meta = heatmapMeta(grid, slide, o.value);
    const format = o.format ?? 'both';
    if (format !== 'tiff') {
      const samples = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        samples[i] = Number.isNaN(v) ? 0 : 1 + Math.round(Math.min(1, Math.max(0, v)) * 65534);
      }
      const png = outPath(ctx.outDir, `${stem}.${o.value}.png`);
      writeFileSync(
        png,
        encodePng16(grid.columns, grid.rows, samples, {
          Software: 'wsi-pipeline',
          Description: JSON.stringify(meta),
        }),
      );
      files.push(png);
    }
    if (format !== 'png') {
      const tiff = outPath(ctx.outDir, `${stem}.${o.value}.tif`);
      writeFileSync(
        tiff,
        encodeFloat32Tiff(grid.columns, grid.rows, values, {
          description: JSON.stringify(meta),
          originX: grid.originX,
          originY: grid.originY,
          stepX: grid.stepX,
          stepY: grid.stepY,
          mpp: slide.mpp,
        }),
      );
      files.push(tiff);
    }
    writeFileSync(outPath(ctx.outDir, `${stem}.${o.value}.json`), `${JSON.stringify(meta, null, 2)}\n`);
    files.push(outPath(ctx.outDir, `${stem}.${o.value}.json`));
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
