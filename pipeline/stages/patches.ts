/**
 * The `patches` stage: per slide tissue → grid → labels → rows; with an export folder, the workers write
 * the patch images (atomically) and each batch's rows follow its files. Rows already stored are not
 * planned again, so a killed run resumes without rewriting a file or a row.
 */
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { findAnnotationFile, readAnnotationFile } from '../annotations/files.ts';
import { ConfigError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic-write.ts';
import { csvTable } from '../io/csv.ts';
import { gridGeometry, planGrid } from '../patches/grid.ts';
import { labelPatches } from '../patches/labels.ts';
import type { GridSpec, PatchSpec } from '../patches/types.ts';
import { hashFolder } from '../stage/identity.ts';
import type { RunContext, Stage } from '../stage/types.ts';
import { saveAnnotations } from '../store/annotations-queries.ts';
import {
  exportIndexRows,
  insertPatches,
  type PatchRow,
  patchCounts,
  storedPatchKeys,
} from '../store/patches-queries.ts';
import { detectTissue } from '../tissue/detect.ts';
import type { TissueOptions } from '../tissue/types.ts';

export interface PatchStageOptions {
  grid: GridSpec;
  assumeMpp?: number;
  annotationsDir?: string;
  centreSize?: number;
  /** Label of patches on slides without an annotation file when annotations are given (default unknown). */
  unannotated?: 'unknown' | 'normal';
  exportDir?: string;
  format?: 'png' | 'jpeg';
  quality?: number;
  /** Patches per worker task (default 16). */
  batch?: number;
  tissue?: TissueOptions;
}

export const LABEL_DIRS: Record<string, string> = { '1': 'tumour', '0': 'normal', null: 'unlabelled' };

/** Where a patch image goes: DIR/<label>/<slide stem>_<x>_<y>.<ext>. */
export function patchFile(
  exportDir: string,
  slidePath: string,
  p: { x: number; y: number },
  label: number | null,
  format: 'png' | 'jpeg',
): string {
  const stem = basename(slidePath).replace(/\.[^.]+$/, '');
  return join(
    exportDir,
    LABEL_DIRS[String(label)],
    `${stem}_${p.x}_${p.y}.${format === 'png' ? 'png' : 'jpg'}`,
  );
}

interface PatchState {
  rows: PatchRow[];
  /** Row indices per task, in plan order. */
  chunks: number[][];
  total: number;
}

const ANNOTATION_FILE = /\.(xml|geojson|json)$/i;

export function patchesStage(o: PatchStageOptions): Stage<PatchState, 'patch-extract'> {
  const batch = o.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1)
    throw new ConfigError(`--batch must be a positive integer, got ${batch}`);
  if (o.annotationsDir && !existsSync(o.annotationsDir))
    throw new ConfigError(`--annotations folder not found: ${o.annotationsDir}`);
  const format = o.format ?? 'png';
  const exportDir = o.exportDir ? resolve(o.exportDir) : undefined;
  return {
    kind: 'patches',
    taskKind: 'patch-extract',
    unit: 'patches',
    identity: () => ({
      config: {
        resolution: o.grid.resolution,
        size: o.grid.size,
        stride: o.grid.stride ?? o.grid.size,
        minTissue: o.grid.minTissue ?? 0.5,
        assumeMpp: o.assumeMpp ?? null,
        // Annotation content, not the folder's path: edited labels give a new run.
        annotations: o.annotationsDir ? hashFolder(o.annotationsDir, (n) => ANNOTATION_FILE.test(n)) : null,
        centreSize: o.annotationsDir ? (o.centreSize ?? 32) : null,
        unannotated: o.annotationsDir ? (o.unannotated ?? 'unknown') : null,
        // An output folder: another folder is another set of files, hence another run.
        export: exportDir ?? null,
        format: exportDir ? format : null,
        quality: exportDir && format === 'jpeg' ? (o.quality ?? 90) : null,
        tissue: o.tissue ?? {},
      },
    }),
    begin() {
      if (exportDir) sweepTempFiles(exportDir);
    },
    async plan(ctx, s) {
      const slide = s.slide!;
      gridGeometry(slide, o.grid); // a missing µm/px or bad level fails this slide in one line
      const mask = await detectTissue(slide, o.tissue);
      const patches: PatchSpec[] = planGrid(slide, mask, o.grid);
      let labels: Array<number | null> = patches.map(() => null);
      if (o.annotationsDir) {
        const file = findAnnotationFile(o.annotationsDir, s.source);
        if (file) {
          const annotations = readAnnotationFile(file);
          saveAnnotations(ctx.store, s.id, basename(file), annotations);
          labels = labelPatches(patches, o.grid.size, annotations, { centreSize: o.centreSize });
        } else if (o.unannotated === 'normal') labels = patches.map(() => 0);
      }
      const rows: PatchRow[] = patches.map((p, i) => ({
        x: p.x,
        y: p.y,
        width: p.width,
        height: p.height,
        level: p.level,
        mpp: p.mpp,
        tissue: p.tissue,
        label: labels[i],
      }));
      const stored = storedPatchKeys(ctx.store, ctx.runId, s.id);
      const todo = rows.flatMap((r, i) => (stored.has(`${r.x},${r.y}`) ? [] : [i]));
      const state: PatchState = { rows, chunks: [], total: rows.length };
      if (!exportDir) {
        state.chunks = [todo]; // no files: every row is written with the done mark
        return { state, tasks: [], unitsDone: rows.length };
      }
      for (let k = 0; k < todo.length; k += batch) state.chunks.push(todo.slice(k, k + batch));
      return {
        state,
        unitsDone: rows.length - todo.length,
        tasks: state.chunks.map((chunk) => ({
          units: chunk.length,
          payload: {
            slidePath: s.slide?.source ?? s.source,
            assumeMpp: o.assumeMpp,
            size: o.grid.size,
            resolution: o.grid.resolution,
            format,
            quality: o.quality,
            patches: chunk.map((i) => ({
              x: rows[i].x,
              y: rows[i].y,
              file: patchFile(exportDir, s.source, rows[i], rows[i].label, format),
            })),
          },
        })),
      };
    },
    onResult(ctx, s, state, index) {
      // The batch's files are complete (renamed into place) before its rows are written.
      insertPatches(
        ctx.store,
        ctx.runId,
        s.id,
        state.chunks[index].map((i) => state.rows[i]),
      );
    },
    finish(ctx, s, state) {
      if (!exportDir)
        insertPatches(
          ctx.store,
          ctx.runId,
          s.id,
          state.chunks[0].map((i) => state.rows[i]),
        );
      return state.total;
    },
    end(ctx) {
      if (exportDir) writeIndexCsv(ctx, exportDir, format);
      const c = patchCounts(ctx.store, ctx.runId);
      return { patches: c.total, tumour: c.tumour, normal: c.normal, unknown: c.unknown };
    },
  };
}

/** Temp files of writes a killed run left half-done. */
function sweepTempFiles(exportDir: string): void {
  for (const dir of Object.values(LABEL_DIRS)) {
    const d = join(exportDir, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (/\.tmp$/.test(f)) rmSync(join(d, f), { force: true });
  }
}

function writeIndexCsv(ctx: RunContext, exportDir: string, format: 'png' | 'jpeg'): void {
  const header = [
    'file',
    'slide',
    'slide_id',
    'x',
    'y',
    'width',
    'height',
    'level',
    'mpp',
    'tissue',
    'label',
  ];
  const rows = exportIndexRows(ctx.store, ctx.runId).map((r) => {
    return [
      relative(exportDir, patchFile(exportDir, r.slideName, r, r.label, format)),
      r.slideName,
      r.slideId,
      r.x,
      r.y,
      r.width,
      r.height,
      r.level,
      r.mpp,
      r.tissue === null ? null : Number(r.tissue.toFixed(4)),
      r.label,
    ];
  });
  writeFileAtomic(join(exportDir, 'index.csv'), csvTable(header, rows));
}
