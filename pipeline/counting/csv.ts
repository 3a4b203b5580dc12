/** The counts CSV of `wsi count` (pipeline/io/csv.ts: RFC 4180, opens in a spreadsheet). */
import { type CsvValue, csvTable } from '../io/csv.ts';

const COUNT_CSV_HEADER = [
  'image',
  'plate',
  'well',
  'row',
  'column',
  'field',
  'count',
  'mean_area',
  'method',
  'model',
  'channel',
  'focus',
  'saturated',
  'qc_flags',
] as const;

export interface CountCsvRow {
  image: string;
  plate?: string;
  well?: string;
  /** 0-based row index; written 1-based. */
  row?: number;
  /** 0-based column index; written 1-based. */
  col?: number;
  field?: number;
  count: number;
  meanArea?: number;
  /** The counter that ran (he-watershed, density, watershed) and its model id (issue 17). */
  method?: string;
  modelId?: string;
  /** Channel counted, e.g. '1 (DAPI)'. */
  channel?: string;
  focus?: number;
  saturated?: number;
  /** QC flags (qc.ts), set once the plate is complete. */
  flags?: readonly string[];
}

/** Numbers to 3 decimals (mean areas), whole numbers as they are. */
function round3(v: number | undefined): number | undefined {
  return v === undefined ? undefined : Math.round(v * 1000) / 1000;
}

/** The counts CSV: plate columns empty for images that are not from a plate; row/column 1-based. */
export function countsCsv(rows: readonly CountCsvRow[]): string {
  return csvTable(
    COUNT_CSV_HEADER,
    rows.map((r): CsvValue[] => [
      r.image,
      r.plate,
      r.well,
      r.row === undefined ? undefined : r.row + 1,
      r.col === undefined ? undefined : r.col + 1,
      r.field,
      round3(r.count),
      round3(r.meanArea),
      r.method,
      r.modelId,
      r.channel,
      round3(r.focus),
      round3(r.saturated),
      r.flags?.join('+'),
    ]),
  );
}
