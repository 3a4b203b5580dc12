/** What every export gets (store, run, slides, output folder) and gives back (files written, notes). */

import type { Store } from '../store/db.ts';
import type { ExportSlide } from '../store/export-queries.ts';

export interface ExportContext {
  store: Store;
  /** The run exported (undefined only for run-free exports: annotations). */
  runId?: number;
  slides: ExportSlide[];
  outDir: string;
}

export interface ExportResult {
  files: string[];
  /** One line each: what was skipped and why. */
  notes: string[];
}

export function requireRunId(ctx: ExportContext, kind: string): number {
  if (ctx.runId === undefined) throw new Error(`export ${kind} needs a run`);
  return ctx.runId;
}
