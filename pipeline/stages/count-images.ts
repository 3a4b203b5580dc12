/**
 * The `count` stage over images (a plate, a folder, a dataset): one 'count-field' task per field (the
 * counter `--method auto` picks, the channel planFields chose, the field's QC measures). A field's count,
 * plate position, QC row and cells are written with its done mark. After the last field the results of
 * every field of this invocation (counted now or by an earlier attempt) become the counts CSV, QC flags,
 * wells/plates/conditions files and store rows, and the plate heatmaps. The run is keyed by the settings,
 * the models' content and the field names (not their folder).
 */
import path from 'node:path';
import type { CountMethod } from '../counting/auto-method.ts';
import { unpackCellArrays } from '../counting/count-image.ts';
import type { CountCsvRow } from '../counting/csv.ts';
import { fieldColumns, fieldQcRow, fieldTask, resumedColumns } from '../counting/field-rows.ts';
import { registerField } from '../counting/field-slide.ts';
import type { HeModel } from '../counting/he-counter.ts';
import type { PlateFormat } from '../counting/plate.ts';
import type { FieldPlan, FieldToCount } from '../counting/plate-layout.ts';
import { writeCountOutputs } from '../counting/plate-results.ts';
import type { WatershedPreset } from '../counting/watershed-counter.ts';
import type { PlateMapEntry } from '../counting/wells.ts';
import { modelContentHash } from '../stage/identity.ts';
import type { RunContext, Stage } from '../stage/types.ts';
import {
  countsOfRun,
  deleteCells,
  insertCells,
  replaceWells,
  upsertCount,
} from '../store/counting-queries.ts';
import { fieldQcOfRun, upsertFieldQc } from '../store/plate-qc-queries.ts';

export interface CountImagesOptions {
  /** The fields to count (planFields: file, channel, plate position). */
  plan: FieldPlan;
  method: CountMethod;
  /** Density model folder (density, and auto on fluorescence colour images). */
  modelDir?: string;
  /** H&E counter (auto, he-watershed) and the file it came from when not the shipped one. */
  heModel?: HeModel;
  heModelFile?: string;
  preset: WatershedPreset;
  plate: PlateFormat;
  /** Source of a custom well pattern, kept in the run's identity. */
  pattern?: string;
  plateMap?: Map<string, PlateMapEntry>;
  keepFlagged: boolean;
  /** The counts CSV; wells/plates/conditions files go beside it. */
  out: string;
  /** Heatmap PNG (default: next to the CSV); one per plate when there are several. */
  heatmap?: string;
}

/** What the end of the run produced, for the command's summary. */
export interface CountImagesResult {
  rows: CountCsvRow[];
  wells: number;
  /** QC and per-well lines for the user. */
  summary: string[];
}

export type CountImagesStage = Stage<FieldToCount, 'count-field'> & { result?: CountImagesResult };

export function countImagesStage(o: CountImagesOptions): CountImagesStage {
  const fields = new Map(o.plan.fields.map((f) => [f.file, f]));
  /** Content id of each field file, filled as the runner resolves it (done, redone or resumed). */
  const slideIds = new Map<string, string>();
  const stage: CountImagesStage = {
    kind: 'count',
    taskKind: 'count-field',
    unit: 'images',
    inputs: 'images',
    identity: () => ({
      config: {
        method: o.method,
        model: o.modelDir ? modelContentHash(o.modelDir) : null,
        preset: o.preset,
        plate: o.plate,
        pattern: o.pattern ?? null,
        images: o.plan.fields.map((f) => path.basename(f.file)),
        ...(o.plan.fields.some((f) => f.channel)
          ? { channel: o.plan.fields.map((f) => f.channel ?? null) }
          : {}),
        ...(o.heModel ? { heModel: o.heModel.id } : {}),
      },
    }),
    async resolve(ctx, source) {
      // Also 16-bit / multi-channel TIFF fields, which the slide reader refuses.
      const id = await registerField(ctx.store, source);
      slideIds.set(source, id);
      return { source, id, name: path.basename(source) };
    },
    async plan(_ctx, s) {
      const field = fields.get(s.source)!;
      const payload = fieldTask(field, {
        method: o.method,
        modelDir: o.modelDir,
        heModel: o.heModelFile,
        preset: o.preset,
      });
      return { state: field, tasks: [{ units: 1, payload }] };
    },
    finish(ctx, s, field, [result]) {
      const r = unpackCellArrays(result.cells);
      const row: CountCsvRow = {
        ...baseRow(field),
        count: r.count,
        meanArea: r.meanArea ?? undefined,
        ...fieldColumns(result, field),
      };
      upsertCount(ctx.store, { runId: ctx.runId, slideId: s.id, ...row });
      const qc = fieldQcRow(s.id, row);
      if (qc) upsertFieldQc(ctx.store, ctx.runId, qc);
      deleteCells(ctx.store, ctx.runId, s.id);
      const cells = Array.from(r.xs, (x, k) => ({
        x,
        y: r.ys[k],
        area: Number.isNaN(r.areas[k]) ? undefined : r.areas[k],
      }));
      insertCells(ctx.store, ctx.runId, s.id, cells);
      return cells.length;
    },
    async end(ctx) {
      stage.result = await finishCounting(ctx, o, slideIds);
      const { rows, wells } = stage.result;
      return { images: rows.length, wells, cells: rows.reduce((n, r) => n + r.count, 0) };
    },
  };
  return stage;
}

function baseRow(f: FieldToCount): Omit<CountCsvRow, 'count'> {
  const pos = f.position;
  return {
    image: path.basename(f.file),
    plate: pos?.plate,
    well: pos?.well,
    row: pos?.row,
    col: pos?.col,
    field: pos?.field,
  };
}

/**
 * The rows of every field of this invocation that has a count in the store (failed fields have none),
 * in plan order; then QC flags, wells/plates/conditions, the CSV, the heatmaps and the store's wells.
 */
async function finishCounting(
  ctx: RunContext,
  o: CountImagesOptions,
  slideIds: ReadonlyMap<string, string>,
): Promise<CountImagesResult> {
  const counts = new Map(countsOfRun(ctx.store, ctx.runId).map((r) => [r.slideId, r]));
  const qc = fieldQcOfRun(ctx.store, ctx.runId);
  const rows: CountCsvRow[] = [];
  const ids: string[] = [];
  for (const f of o.plan.fields) {
    const id = slideIds.get(f.file);
    const c = id === undefined ? undefined : counts.get(id);
    if (!id || !c) continue;
    rows.push({ ...baseRow(f), count: c.count, meanArea: c.meanArea, ...resumedColumns(qc.get(id)) });
    ids.push(id);
  }
  const { wells, summary } = await writeCountOutputs(rows, {
    ...o,
    store: ctx.store,
    runId: ctx.runId,
    slideIds: ids,
  });
  replaceWells(ctx.store, ctx.runId, wells);
  return { rows, wells: wells.length, summary };
}
