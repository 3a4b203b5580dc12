/**
 * A `patches` run: for each slide, tissue → grid → labels → rows (and, with an export folder, patch images
 * written by the workers), resumable. The run is keyed by its configuration; a slide's done mark is written
 * once all its rows are in, and rows already stored are skipped on resume, so a run killed at any moment and
 * restarted ends with exactly the rows and files of an uninterrupted run.
 */
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, extname, join, relative, resolve } from 'node:path';
import { findAnnotationFile, readAnnotationFile } from '../annotations/files.ts';
import { ConfigError, SlideNotFoundError } from '../errors.ts';
import { createPool, defaultWorkerCount } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { type QueueFlags, taskExecutor } from '../queue/task-executor.ts';
import { isDicomSeriesFolder, openSlide } from '../slide/index.ts';
import type { Slide } from '../slide/types.ts';
import { saveAnnotations } from '../store/annotations-queries.ts';
import {
  beginRun,
  failRun,
  finishRun,
  isSlideDone,
  markSlideDone,
  openStore,
  upsertSlide,
} from '../store/index.ts';
import {
  exportIndexRows,
  insertPatches,
  type PatchRow,
  patchCounts,
  storedPatchKeys,
} from '../store/patches-queries.ts';
import { detectTissue } from '../tissue/detect.ts';
import type { TissueOptions } from '../tissue/types.ts';
import { gridGeometry, planGrid } from './grid.ts';
import { labelPatches } from './labels.ts';
import type { GridSpec, PatchSpec } from './types.ts';

export interface PatchRunOptions {
  slides: string[];
  db: string;
  grid: GridSpec;
  assumeMpp?: number;
  annotationsDir?: string;
  centreSize?: number;
  /** Label of patches on slides without an annotation file when annotations are given (default unknown). */
  unannotated?: 'unknown' | 'normal';
  exportDir?: string;
  format?: 'png' | 'jpeg';
  quality?: number;
  workers?: number;
  /** Patches per worker task (default 16). */
  batch?: number;
  tissue?: TissueOptions;
  quiet?: boolean;
  /** Run the export tasks on the queue (--queue) instead of the local pool. */
  queue?: QueueFlags;
}

export interface PatchRunResult {
  runId: number;
  resumed: boolean;
  slides: number;
  skippedSlides: number;
  patches: number;
  tumour: number;
  normal: number;
  unknown: number;
  exported: number;
}

const SLIDE_EXTENSIONS = new Set(['.svs', '.tif', '.tiff', '.ndpi', '.scn', '.png', '.jpg', '.jpeg']);

/** Slide files from paths that are files or folders (a folder's slide files, sorted); URLs pass through. */
export function expandSlidePaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (/^https?:\/\//.test(p)) {
      out.push(p);
      continue;
    }
    if (!existsSync(p)) throw new SlideNotFoundError(`no such slide or folder: ${p}`);
    if (statSync(p).isDirectory()) {
      // A folder of DICOM instances is one slide (a series), not a folder of slides.
      if (isDicomSeriesFolder(p, (f) => SLIDE_EXTENSIONS.has(extname(f).toLowerCase()))) {
        out.push(resolve(p));
        continue;
      }
      const files = readdirSync(p)
        .filter((f) => SLIDE_EXTENSIONS.has(extname(f).toLowerCase()))
        .sort()
        .map((f) => resolve(p, f));
      if (files.length === 0) throw new SlideNotFoundError(`no slide files in folder ${p}`);
      out.push(...files);
    } else out.push(resolve(p));
  }
  return [...new Set(out)];
}

export const LABEL_DIRS: Record<string, string> = { '1': 'tumour', '0': 'normal', null: 'unlabelled' };

function stemOf(slidePath: string): string {
  return basename(slidePath).replace(/\.[^.]+$/, '');
}

/** Where a patch image goes: DIR/<label>/<slide stem>_<x>_<y>.<ext>. */
export function patchFile(
  exportDir: string,
  slidePath: string,
  p: { x: number; y: number },
  label: number | null,
  format: 'png' | 'jpeg',
): string {
  return join(
    exportDir,
    LABEL_DIRS[String(label)],
    `${stemOf(slidePath)}_${p.x}_${p.y}.${format === 'png' ? 'png' : 'jpg'}`,
  );
}

/** Temp files of writes a killed run left half-done. */
function sweepTempFiles(exportDir: string): void {
  if (!existsSync(exportDir)) return;
  for (const dir of Object.values(LABEL_DIRS)) {
    const d = join(exportDir, dir);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (/\.\d+\.tmp$/.test(f)) rmSync(join(d, f), { force: true });
  }
}

function openFor(path: string, assumeMpp: number | undefined): Promise<Slide> {
  return openSlide(path, { fallbackMpp: assumeMpp });
}

/** The configuration that identifies a run (what changes the rows or files); workers and batch do not. */
export function runConfig(o: PatchRunOptions): Record<string, unknown> {
  return {
    resolution: o.grid.resolution,
    size: o.grid.size,
    stride: o.grid.stride ?? o.grid.size,
    minTissue: o.grid.minTissue ?? 0.5,
    assumeMpp: o.assumeMpp ?? null,
    annotations: o.annotationsDir ? resolve(o.annotationsDir) : null,
    centreSize: o.annotationsDir ? (o.centreSize ?? 32) : null,
    unannotated: o.annotationsDir ? (o.unannotated ?? 'unknown') : null,
    export: o.exportDir ? resolve(o.exportDir) : null,
    format: o.exportDir ? (o.format ?? 'png') : null,
    quality: o.exportDir && o.format === 'jpeg' ? (o.quality ?? 90) : null,
    tissue: o.tissue ?? {},
  };
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function writeIndexCsv(
  store: ReturnType<typeof openStore>,
  runId: number,
  o: PatchRunOptions,
  pathsById: Map<string, string>,
): void {
  const exportDir = o.exportDir as string;
  const lines = ['file,slide,slide_id,x,y,width,height,level,mpp,tissue,label'];
  for (const r of exportIndexRows(store, runId)) {
    const slidePath = pathsById.get(r.slideId) ?? r.slideName;
    const file = relative(exportDir, patchFile(exportDir, slidePath, r, r.label, o.format ?? 'png'));
    lines.push(
      [
        file,
        r.slideName,
        r.slideId,
        r.x,
        r.y,
        r.width,
        r.height,
        r.level,
        r.mpp,
        r.tissue?.toFixed(4),
        r.label,
      ]
        .map(csvField)
        .join(','),
    );
  }
  const target = join(exportDir, 'index.csv');
  const tmp = `${target}.${process.pid}.tmp`;
  writeFileSync(tmp, `${lines.join('\n')}\n`);
  renameSync(tmp, target);
}

export async function runPatches(o: PatchRunOptions): Promise<PatchRunResult> {
  const slides = expandSlidePaths(o.slides);
  const batch = o.batch ?? 16;
  if (!Number.isInteger(batch) || batch < 1)
    throw new ConfigError(`--batch must be a positive integer, got ${batch}`);
  const format = o.format ?? 'png';
  if (o.annotationsDir && !existsSync(o.annotationsDir))
    throw new ConfigError(`--annotations folder not found: ${o.annotationsDir}`);
  // Check every slide before any work: a missing MPP or bad level fails the command at once.
  for (const path of slides) {
    const s = await openFor(path, o.assumeMpp);
    try {
      gridGeometry(s, o.grid);
    } finally {
      await s.close();
    }
  }
  const store = openStore(o.db);
  const { runId, resumed } = beginRun(store, 'patches', runConfig(o));
  const workers = o.workers ?? defaultWorkerCount();
  const pool = o.exportDir
    ? await taskExecutor(o.queue, { store, runId, label: `patches run ${runId}` }, () =>
        createPool({ workers }),
      )
    : undefined;
  const progress = createProgress({ total: 0, label: 'patches', unit: 'patches', quiet: o.quiet });
  const pathsById = new Map<string, string>();
  let skippedSlides = 0;
  let planned = 0;
  try {
    if (o.exportDir) sweepTempFiles(o.exportDir);
    for (const path of slides) {
      const slide = await openFor(path, o.assumeMpp);
      let patches: PatchSpec[];
      let labels: Array<number | null>;
      let slideId: string;
      try {
        slideId = upsertSlide(store, slide);
        pathsById.set(slideId, path);
        if (isSlideDone(store, runId, slideId)) {
          skippedSlides++;
          continue;
        }
        const mask = await detectTissue(slide, o.tissue);
        patches = planGrid(slide, mask, o.grid);
        labels = patches.map(() => null);
        if (o.annotationsDir) {
          const file = findAnnotationFile(o.annotationsDir, path);
          if (file) {
            const annotations = readAnnotationFile(file);
            saveAnnotations(store, slideId, basename(file), annotations);
            labels = labelPatches(patches, o.grid.size, annotations, { centreSize: o.centreSize });
          } else if (o.unannotated === 'normal') labels = patches.map(() => 0);
        }
      } finally {
        await slide.close();
      }
      planned += patches.length;
      progress.setTotal(planned);
      const rowOf = (p: PatchSpec, i: number): PatchRow => ({
        x: p.x,
        y: p.y,
        width: p.width,
        height: p.height,
        level: p.level,
        mpp: p.mpp,
        tissue: p.tissue,
        label: labels[i],
      });
      const stored = storedPatchKeys(store, runId, slideId);
      const todo = patches.map((p, i) => ({ p, i })).filter(({ p }) => !stored.has(`${p.x},${p.y}`));
      progress.tick(patches.length - todo.length, basename(path));
      if (!pool || !o.exportDir) {
        store.db.transaction(() => {
          insertPatches(
            store,
            runId,
            slideId,
            todo.map(({ p, i }) => rowOf(p, i)),
          );
          markSlideDone(store, runId, slideId, patches.length);
        })();
        progress.tick(todo.length, basename(path));
        continue;
      }
      const exportDir = o.exportDir;
      // Bounded in-flight batches: memory stays flat however many patches the slide has.
      const maxInFlight = pool.size * 3;
      const inFlight = new Set<Promise<void>>();
      for (let start = 0; start < todo.length; start += batch) {
        const chunk = todo.slice(start, start + batch);
        const task = pool
          .run<Float64Array>('patch-extract', {
            slidePath: path,
            assumeMpp: o.assumeMpp,
            size: o.grid.size,
            resolution: o.grid.resolution,
            format,
            quality: o.quality,
            patches: chunk.map(({ p, i }) => ({
              x: p.x,
              y: p.y,
              file: patchFile(exportDir, path, p, labels[i], format),
            })),
          })
          .then(() => {
            // Files are complete (renamed into place) before their rows are written.
            insertPatches(
              store,
              runId,
              slideId,
              chunk.map(({ p, i }) => rowOf(p, i)),
            );
            progress.tick(chunk.length, basename(path));
          });
        inFlight.add(task);
        void task.finally(() => inFlight.delete(task)).catch(() => {});
        if (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
      markSlideDone(store, runId, slideId, patches.length);
    }
    if (o.exportDir) writeIndexCsv(store, runId, o, pathsById);
    const counts = patchCounts(store, runId);
    const result: PatchRunResult = {
      runId,
      resumed,
      slides: slides.length,
      skippedSlides,
      patches: counts.total,
      tumour: counts.tumour,
      normal: counts.normal,
      unknown: counts.unknown,
      exported: o.exportDir ? counts.total : 0,
    };
    finishRun(store, runId, { ...result });
    progress.done(`run ${runId}${resumed ? ' (resumed)' : ''}`);
    return result;
  } catch (err) {
    failRun(store, runId, err instanceof Error ? err.message : String(err));
    throw err;
  } finally {
    await pool?.close();
    store.close();
  }
}
