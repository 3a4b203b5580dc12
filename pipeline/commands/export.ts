/** `wsi export <kind>`: results from the store as files QuPath, ASAP and the CAMELYON evaluation read. */
import { resolve } from 'node:path';
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import {
  type ExportResult,
  exportAnnotations,
  exportAttention,
  exportCells,
  exportDetections,
  exportHeatmap,
  exportSlides,
  exportTissue,
} from '../export/index.ts';
import { openStore, type Store } from '../store/db.ts';
import {
  allSlidesForExport,
  type ExportSlide,
  resolveExportSlide,
  slidesOfRunForExport,
} from '../store/export-queries.ts';
import { getRun } from '../store/runs.ts';
import type { Command } from './types.ts';

const KINDS = ['cells', 'heatmap', 'detections', 'slides', 'attention', 'tissue', 'annotations'] as const;
type Kind = (typeof KINDS)[number];

const usage = `
usage: wsi export <kind> --db FILE --run R [--slide ID] -o OUT [options]

Writes results of run R (every slide it touched, or one slide by content id; a unique name also works)
into the folder OUT. Coordinates are level-0 pixels; µm columns use the slide's recorded µm/px.
  cells        <slide>.cells.geojson  QuPath detections (points; --cell-shape circle: polygons of the cell's
                                      area) with classification Nucleus and measurements (score, area)
               <slide>.cells.csv      slide_id,slide,cell_id,x_px,y_px,x_um,y_um,area_px,area_um2,score
  heatmap      <slide>.<value>.png    one pixel per patch, 16-bit grey (0 = no patch, else 1 + value·65534);
                                      origin, stride and patch size in its tEXt and in <slide>.<value>.json
               <slide>.<value>.tif    the same pixels as 32-bit float (exact values, NaN = no patch); origin
                                      and step as GeoTIFF ModelTiepoint/ModelPixelScale (level-0 px, y down),
                                      µm per pixel as XResolution (px/cm), the JSON in ImageDescription
               --format png|tiff|both (default both)
               <slide>.tumour-regions.geojson / .xml   regions with score >= --threshold (default 0.5) as
                                      polygons with holes (QuPath annotations; ASAP: holes in group _2)
               --value score|attention (default score)
  detections   <slide>.csv            CAMELYON16 lesion detections (confidence,X,Y; no header): local maxima
                                      of the patch scores >= --threshold within --radius px (default 2 patches)
  slides       predictions.csv        name,probability (CAMELYON16 slide level)
               stages.csv             CAMELYON17 patient,stage, for slides named patient_XXX_node_Y in a run
                                      with patch scores (slide class from its largest region's diameter)
  attention    <slide>.attention.csv / .geojson   per-patch attention, raw and normalised (QuPath tiles)
  tissue       <slide>.tissue.geojson / .xml      the run's patch footprints as tissue polygons
  annotations  <slide>.annotations.geojson / .xml the slide's annotations (files and viewer drawings, with
                                      author and time); --run optional; --source NAME (e.g. viewer)
`;

/** The slide asked for, else every slide of the run (every registered slide when no run is given). */
function exportSlidesOf(store: Store, runId: number | undefined, spec?: string): ExportSlide[] {
  if (spec) return [resolveExportSlide(store, spec)];
  const slides = runId === undefined ? allSlidesForExport(store) : slidesOfRunForExport(store, runId);
  if (slides.length === 0)
    throw new ConfigError(runId === undefined ? 'the store has no slides' : `run ${runId} has no slides`);
  return slides;
}

export const command: Command = {
  name: 'export',
  summary: 'export results as QuPath GeoJSON, ASAP XML, CAMELYON CSVs and heatmap images',
  usage,
  async run(argv) {
    const kind = argv[0] as Kind;
    if (!KINDS.includes(kind))
      throw new ConfigError(`say what to export: wsi export <${KINDS.join('|')}> (got '${argv[0] ?? ''}')`);
    const p = parseFlags(
      argv.slice(1),
      {
        db: { type: 'string' },
        run: { type: 'string' },
        slide: { type: 'string' },
        out: { type: 'string', short: 'o' },
        threshold: { type: 'string' },
        radius: { type: 'string' },
        value: { type: 'string' },
        format: { type: 'string' },
        'cell-shape': { type: 'string' },
        source: { type: 'string' },
      },
      false,
    );
    const outDir = resolve(stringFlag(p, 'out', true));
    const threshold = numberFlag(p, 'threshold', { default: 0.5, min: 0, max: 1 });
    const store = openStore(stringFlag(p, 'db', true), { readonly: true });
    try {
      const runId = numberFlag(p, 'run', { required: kind !== 'annotations', integer: true, min: 1 });
      if (runId !== undefined && !getRun(store, runId)) throw new ConfigError(`no run ${runId} in the store`);
      const slides = exportSlidesOf(store, runId, stringFlag(p, 'slide'));
      const ctx = { store, runId, slides, outDir };
      let result: ExportResult;
      switch (kind) {
        case 'cells': {
          const shape = stringFlag(p, 'cell-shape') ?? 'point';
          if (shape !== 'point' && shape !== 'circle')
            throw new ConfigError(`--cell-shape must be point or circle, got '${shape}'`);
          result = exportCells(ctx, { shape });
          break;
        }
        case 'heatmap': {
          const value = stringFlag(p, 'value') ?? 'score';
          if (value !== 'score' && value !== 'attention')
            throw new ConfigError(`--value must be score or attention, got '${value}'`);
          const format = stringFlag(p, 'format') ?? 'both';
          if (format !== 'png' && format !== 'tiff' && format !== 'both')
            throw new ConfigError(`--format must be png, tiff or both, got '${format}'`);
          result = exportHeatmap(ctx, { value, threshold, format });
          break;
        }
        case 'detections':
          result = exportDetections(ctx, { threshold, radius: numberFlag(p, 'radius', { min: 1 }) });
          break;
        case 'slides':
          result = exportSlides(ctx, { threshold });
          break;
        case 'attention':
          result = exportAttention(ctx);
          break;
        case 'tissue':
          result = exportTissue(ctx);
          break;
        case 'annotations':
          result = exportAnnotations(ctx, { source: stringFlag(p, 'source') });
          break;
      }
      for (const note of result.notes) process.stderr.write(`wsi export ${kind}: ${note}\n`);
      process.stdout.write(
        `${result.files.length} file${result.files.length === 1 ? '' : 's'} for ${slides.length} slide${slides.length === 1 ? '' : 's'} in ${outDir}\n`,
      );
      return result.files.length > 0 || kind === 'detections' ? 0 : 1;
    } finally {
      store.close();
    }
  },
};
