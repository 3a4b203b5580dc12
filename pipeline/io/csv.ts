/**
 * CSV that a spreadsheet opens as written (RFC 4180): CRLF line ends; a field is quoted when it holds a
 * comma, quote, CR or LF, with quotes doubled; a text field starting with = + - @ gets a leading ' so a
 * spreadsheet shows it instead of evaluating it as a formula. Empty for null, undefined and non-finite numbers.
 */
export type CsvValue = string | number | boolean | undefined | null;

export function csvField(v: CsvValue): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  if (typeof v === 'boolean') return String(v);
  const safe = /^[=+\-@]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvLine(values: readonly CsvValue[]): string {
  return `${values.map(csvField).join(',')}\r\n`;
}

/** A header line and one line per row. */
export function csvTable(header: readonly string[], rows: Iterable<readonly CsvValue[]>): string {
  let out = csvLine(header);
  for (const r of rows) out += csvLine(r);
  return out;
}
