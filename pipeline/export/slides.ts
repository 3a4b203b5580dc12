/**
 * `wsi export slides`: slide-level scores as a CAMELYON16-style `name,probability` CSV, and CAMELYON17
 * pN-stage inputs when the run has patch scores: each slide's metastasis class from its largest region at
 * the threshold (CAMELYON17 rules by longest diameter: macro > 2 mm, micro > 0.2 mm, else itc; negative
 * when no region), and each patient's pN stage from the classes of its nodes, in the challenge's
 * submission layout (`patient,stage`; patient_XXX.zip rows then patient_XXX_node_Y.tif rows).
 */
import { writeFileSync } from 'node:fs';
import { slideStem } from '../eval/tables.ts';
import { csvLine as csvRow } from '../io/csv.ts';
import { readOodVerdicts } from '../ood/store.ts';
import { latticeValues } from '../patches/lattice.ts';
import { type ExportSlide, patchesForExport, slideResultsForExport } from '../store/export-queries.ts';
import { type ExportContext, type ExportResult, requireRunId } from './context.ts';
import { outPath } from './files.ts';
import { patchGrid } from './grid.ts';
import { thresholdRegions } from './heatmap.ts';
import { longestDiameter } from './regions.ts';

export type MetastasisClass = 'negative' | 'itc' | 'micro' | 'macro';

export interface SlideExportOptions {
  threshold: number;
}

export function metastasisClass(longestUm: number | null): MetastasisClass {
  if (longestUm === null) return 'negative';
  if (longestUm > 2000) return 'macro';
  if (longestUm > 200) return 'micro';
  return 'itc';
}

/** CAMELYON17 pN stage (TNM 8th, as the challenge simplified it) from the classes of a patient's nodes. */
export function pnStage(classes: readonly MetastasisClass[]): string {
  const macro = classes.filter((c) => c === 'macro').length;
  const positive = classes.filter((c) => c === 'macro' || c === 'micro').length;
  if (positive === 0) return classes.includes('itc') ? 'pN0(i+)' : 'pN0';
  if (macro === 0) return 'pN1mi';
  return positive >= 4 ? 'pN2' : 'pN1';
}

const CAMELYON17_NAME = /^(patient_\d+)_node_\d+$/i;

function largestRegionUm(
  ctx: ExportContext,
  runId: number,
  slide: ExportSlide,
  threshold: number,
): number | null {
  const patches = patchesForExport(ctx.store, runId, slide.id)
    .filter((p) => p.score !== null)
    .map((p) => ({ ...p, value: p.score as number }));
  if (patches.length === 0 || !slide.mpp) return null;
  const grid = patchGrid(patches);
  const regions = thresholdRegions(grid, latticeValues(grid, patches), threshold);
  if (regions.length === 0) return null;
  return Math.max(...regions.map(longestDiameter)) * slide.mpp;
}

/**
 * The run's out-of-distribution verdicts beside predictions.csv (which keeps the challenge's two columns),
 * and a note naming the flagged slides: a probability is never handed out without its warning.
 */
function oodNextToPredictions(
  ctx: ExportContext,
  runId: number,
  results: readonly { slideId: string; name: string; score: number | null }[],
): { file: string; note?: string } | undefined {
  const verdicts = readOodVerdicts(ctx.store, runId);
  if (verdicts.size === 0) return undefined;
  const file = outPath(ctx.outDir, 'out-of-distribution.csv');
  const rows = results.map((r) => ({ ...r, v: verdicts.get(r.slideId) }));
  writeFileSync(
    file,
    [
      csvRow(['name', 'probability', 'out_of_distribution', 'reason']),
      ...rows.map((r) =>
        csvRow([slideStem(r.name), r.score, r.v ? (r.v.outOfDistribution ? 1 : 0) : '', r.v?.reason ?? '']),
      ),
    ].join(''),
  );
  const flagged = rows.filter((r) => r.v?.outOfDistribution).map((r) => slideStem(r.name));
  if (flagged.length === 0) return { file };
  return {
    file,
    note:
      `${flagged.length} of ${rows.length} slides are OUT OF DISTRIBUTION for run ${runId}, their probabilities ` +
      `may be wrong: ${flagged.join(', ')} (reasons in out-of-distribution.csv)`,
  };
}

export function exportSlides(ctx: ExportContext, o: SlideExportOptions): ExportResult {
  const runId = requireRunId(ctx, 'slides');
  const wanted = new Set(ctx.slides.map((s) => s.id));
  const results = slideResultsForExport(ctx.store, runId).filter((r) => wanted.has(r.slideId));
  const files: string[] = [];
  const notes: string[] = [];
  if (results.length) {
    const file = outPath(ctx.outDir, 'predictions.csv');
    writeFileSync(
      file,
      [csvRow(['name', 'probability']), ...results.map((r) => csvRow([slideStem(r.name), r.score]))].join(''),
    );
    files.push(file);
    const ood = oodNextToPredictions(ctx, runId, results);
    if (ood) {
      files.push(ood.file);
      if (ood.note) notes.push(ood.note);
    }
  } else notes.push(`run ${runId} has no slide-level results (predictions.csv not written)`);

  const staged = ctx.slides.filter((s) => CAMELYON17_NAME.test(slideStem(s.name)));
  if (staged.length === 0) {
    notes.push('no slide is named patient_XXX_node_Y: CAMELYON17 stages not written');
    return { files, notes };
  }
  const classes = new Map<string, MetastasisClass>();
  for (const s of staged) {
    const um = largestRegionUm(ctx, runId, s, o.threshold);
    if (um === null && !patchesForExport(ctx.store, runId, s.id).some((p) => p.score !== null)) {
      notes.push(`${s.name}: no patch scores in run ${runId}: CAMELYON17 stages not written`);
      return { files, notes };
    }
    classes.set(slideStem(s.name), metastasisClass(um));
  }
  const patients = new Map<string, MetastasisClass[]>();
  for (const [name, c] of classes) {
    const patient = (CAMELYON17_NAME.exec(name) as RegExpExecArray)[1];
    patients.set(patient, [...(patients.get(patient) ?? []), c]);
  }
  const lines = [csvRow(['patient', 'stage'])];
  for (const [patient, cs] of [...patients].sort()) lines.push(csvRow([`${patient}.zip`, pnStage(cs)]));
  for (const [name, c] of [...classes].sort()) lines.push(csvRow([`${name}.tif`, c]));
  const file = outPath(ctx.outDir, 'stages.csv');
  writeFileSync(file, lines.join(''));
  files.push(file);
  return { files, notes };
}
