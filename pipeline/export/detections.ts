/**
 * `wsi export detections`: CAMELYON16 lesion-level submission files, one `<slide>.csv` per slide with rows
 * `Confidence,X,Y` (no header, level-0 integer pixels, as the official Evaluation_FROC.py reads them; an
 * empty file for a slide without detections). Detections are local maxima of the run's patch scores: patch
 * centres at or above `threshold`, greedily suppressed within `radius` (default two patch widths), the same
 * rule `wsi camelyon` and `wsi eval --db` score.
 */
import { detectionsFromScores, writeDetectionsCsv } from '../eval/detections.ts';
import { patchesForExport } from '../store/export-queries.ts';
import { type ExportContext, type ExportResult, requireRunId } from './context.ts';
import { outPath, slideStems } from './files.ts';

export interface DetectionExportOptions {
  threshold: number;
  /** Level-0 px; default two patch widths. */
  radius?: number;
  /** Most detections per slide. */
  max?: number;
}

export function exportDetections(ctx: ExportContext, o: DetectionExportOptions): ExportResult {
  const runId = requireRunId(ctx, 'detections');
  const stems = slideStems(ctx.slides);
  const files: string[] = [];
  const notes: string[] = [];
  for (const slide of ctx.slides) {
    const scored = patchesForExport(ctx.store, runId, slide.id).filter((p) => p.score !== null);
    if (scored.length === 0) notes.push(`${slide.name}: no scored patches (empty detections file)`);
    const radius = o.radius ?? 2 * (scored[0]?.width ?? 1);
    const detections = detectionsFromScores(
      scored.map((p) => ({ x: p.x + p.width / 2, y: p.y + p.height / 2, score: p.score as number })),
      { threshold: o.threshold, radius, max: o.max },
    );
    const file = outPath(ctx.outDir, `${stems.get(slide.id)}.csv`);
    writeDetectionsCsv(file, detections);
    files.push(file);
  }
  return { files, notes };
}
