/**
 * `wsi export tissue`: the tissue a run analysed, as polygons with holes: the union of the run's patch
 * footprints (its grid already keeps only patches at or above the run's tissue floor), traced on the patch
 * lattice. QuPath GeoJSON annotations (class Tissue) and ASAP XML.
 */
import { footprintCells, footprintLattice } from '../patches/lattice.ts';
import { patchesForExport } from '../store/export-queries.ts';
import { type ExportContext, type ExportResult, requireRunId } from './context.ts';
import { outPath, slideStems } from './files.ts';
import { patchGrid } from './grid.ts';
import { QUPATH_CLASSES } from './qupath.ts';
import { writeRegions } from './region-writers.ts';
import { gridPolygons } from './regions.ts';

export function exportTissue(ctx: ExportContext): ExportResult {
  const runId = requireRunId(ctx, 'tissue');
  const stems = slideStems(ctx.slides);
  const files: string[] = [];
  const notes: string[] = [];
  for (const slide of ctx.slides) {
    const patches = patchesForExport(ctx.store, runId, slide.id).filter(
      (p) => p.tissue === null || p.tissue > 0,
    );
    if (patches.length === 0) {
      notes.push(`${slide.name}: run ${runId} has no patches on this slide`);
      continue;
    }
    // The footprint lattice: cells of the position step, each patch covering its whole footprint.
    const grid = footprintLattice(patches, patchGrid(patches));
    const mask = new Uint8Array(grid.columns * grid.rows);
    for (const p of patches) {
      const [i0, j0, i1, j1] = footprintCells(grid, p);
      for (let j = Math.max(0, j0); j < Math.min(grid.rows, j1); j++)
        mask.fill(1, j * grid.columns + Math.max(0, i0), j * grid.columns + Math.min(grid.columns, i1));
    }
    files.push(
      ...writeRegions(
        {
          label: 'Tissue',
          classification: QUPATH_CLASSES.tissue,
          polygons: gridPolygons(mask, grid),
          mpp: slide.mpp,
        },
        outPath(ctx.outDir, `${stems.get(slide.id)}.tissue`),
        false,
      ),
    );
  }
  return { files, notes };
}
