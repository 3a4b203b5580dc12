/** Output files of stages. (Kept to one helper here until the shared CSV/atomic-write helpers land.) */
import { renameSync, writeFileSync } from 'node:fs';

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A CSV (header + rows) written to a temp file and renamed into place: readers never see half a file. */
export function writeCsvAtomic(file: string, header: readonly string[], rows: readonly unknown[][]): void {
  const lines = [header.join(','), ...rows.map((r) => r.map(csvField).join(','))];
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${lines.join('\n')}\n`);
  renameSync(tmp, file);
}
