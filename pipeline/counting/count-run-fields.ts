/**
 * Glue between the batch counter (count-run.ts) and issue 17's modules, kept in one place so the calls
 * in count-run.ts stay one line each: the worker task of a field, the CSV columns of its result, its
 * store row, and the summary lines.
 */

import type { FieldQcRow } from '../store/plate-qc-queries.ts';
import type { UsedMethod } from './auto-method.ts';
import type { CountFieldTask } from './count-field.ts';
import type { CountCsvRow } from './csv.ts';
import type { FieldToCount } from './plate-layout.ts';
import type { FieldMeasures } from './qc.ts';

/** What the `count-field` worker sends back (cells packed as in count-image.ts). */
export interface FieldResultMessage {
  cells: Float64Array;
  method: UsedMethod;
  modelId: string;
  measures: FieldMeasures;
}

export function fieldTask(
  f: FieldToCount,
  o: Omit<CountFieldTask, 'path' | 'channelInFile'>,
): CountFieldTask {
  return { ...o, path: f.file, channelInFile: f.channelInFile };
}

export type FieldColumns = Pick<CountCsvRow, 'method' | 'modelId' | 'channel' | 'focus' | 'saturated'>;

export function fieldColumns(r: FieldResultMessage, f: FieldToCount): FieldColumns {
  return {
    method: r.method,
    modelId: r.modelId,
    channel: f.channel,
    focus: r.measures.focus,
    saturated: r.measures.saturated,
  };
}

/** Columns of a field counted by an earlier run (resume), from the store. */
export function resumedColumns(q: FieldQcRow | undefined): FieldColumns {
  if (!q) return {};
  return { method: q.method, modelId: q.modelId, channel: q.channel, focus: q.focus, saturated: q.saturated };
}

export function fieldQcRow(slideId: string, row: CountCsvRow): FieldQcRow | undefined {
  if (!row.method || !row.modelId) return undefined;
  return {
    slideId,
    method: row.method,
    modelId: row.modelId,
    channel: row.channel,
    focus: row.focus,
    saturated: row.saturated,
    flags: [...(row.flags ?? [])],
  };
}

/** `counter: 22 images he-watershed (he-watershed@e55beca6)`, one entry per counter used. */
export function methodSummary(rows: readonly CountCsvRow[]): string {
  const by = new Map<string, number>();
  for (const r of rows) {
    const k = `${r.method ?? '?'} (${r.modelId ?? '?'})`;
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  return `counter: ${[...by].map(([k, n]) => `${n} image(s) ${k}`).join('; ')}`;
}

/** `throughput: 12.3 images/s (768 images in 62 s)`, resumed images included. */
export function throughput(images: number, startedMs: number): string {
  const s = (performance.now() - startedMs) / 1000;
  return `throughput: ${(images / Math.max(s, 1e-3)).toFixed(1)} images/s (${images} images in ${s.toFixed(1)} s)`;
}
