/**
 * CSV rows for exports: RFC 4180 quoting and formula-safe text through the counting module's csvField;
 * numbers written here with full precision (attention weights are ~1e-4, so the counting CSV's three decimals
 * would round them away).
 */
import { csvField } from '../counting/csv.ts';

export type Cell = string | number | null | undefined;

function numberText(v: number): string {
  if (!Number.isFinite(v)) return '';
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(7)));
}

export function csvRow(values: readonly Cell[]): string {
  return `${values.map((v) => (typeof v === 'number' ? numberText(v) : csvField(v))).join(',')}\r\n`;
}
