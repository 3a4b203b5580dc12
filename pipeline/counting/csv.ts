/** RFC 4180 CSV: CRLF line ends, fields quoted when they hold a comma, quote, CR or LF (quotes doubled). */
export type CsvValue = string | number | undefined | null;

export function csvField(v: CsvValue): string {
  if (v === undefined || v === null) return '';
  const s = typeof v === 'number' ? (Number.isFinite(v) ? String(Math.round(v * 1000) / 1000) : '') : v;
  // A leading = + - @ would make a spreadsheet evaluate the cell as a formula; quote-and-prefix it.
  const safe = typeof v === 'string' && /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

export const COUNT_CSV_HEADER = [
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

/** The counts CSV: plate columns empty for images that are not from a plate; row/column 1-based. */
export function countsCsv(rows: readonly CountCsvRow[]): string {
  let out = csvLine(COUNT_CSV_HEADER);
  for (const r of rows) {
    out += csvLine([
      r.image,
      r.plate,
      r.well,
      r.row === undefined ? undefined : r.row + 1,
      r.col === undefined ? undefined : r.col + 1,
      r.field,
      r.count,
      r.meanArea,
      r.method,
      r.modelId,
      r.channel,
      r.focus,
      r.saturated,
      r.flags?.join('+'),
    ]);
  }
  return out;
}
