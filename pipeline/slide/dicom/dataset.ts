/**
 * One in-memory model for a DICOM dataset, whether it came from a file's header (parse.ts) or from
 * DICOMweb JSON metadata (dicom-json.ts), with typed accessors. Only values, no VR-specific encoding.
 */

/** Strings (multi-values joined by '\'), numbers, raw bytes, or a sequence's items. */
export type DicomValue = string | number[] | Uint8Array | Dataset[];

export interface DicomElement {
  vr: string;
  value: DicomValue;
}

export type Dataset = Map<number, DicomElement>;

export function getStrings(ds: Dataset | undefined, t: number): string[] {
  const v = ds?.get(t)?.value;
  if (typeof v === 'string') return v === '' ? [] : v.split('\\').map((s) => s.trim());
  if (Array.isArray(v) && typeof v[0] === 'number') return (v as number[]).map(String);
  return [];
}

export function getString(ds: Dataset | undefined, t: number): string | undefined {
  return getStrings(ds, t)[0];
}

/** Numeric values of binary numbers (US, UL, FL, ...) or decimal strings (DS, IS). */
export function getNumbers(ds: Dataset | undefined, t: number): number[] {
  const v = ds?.get(t)?.value;
  if (typeof v === 'string') return v === '' ? [] : v.split('\\').map((s) => Number(s.trim()));
  if (Array.isArray(v) && (v.length === 0 || typeof v[0] === 'number')) return v as number[];
  return [];
}

export function getNumber(ds: Dataset | undefined, t: number): number | undefined {
  const n = getNumbers(ds, t)[0];
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

export function getSequence(ds: Dataset | undefined, t: number): Dataset[] {
  const v = ds?.get(t)?.value;
  return Array.isArray(v) && v.length > 0 && v[0] instanceof Map ? (v as Dataset[]) : [];
}

/** The first item of a sequence, or undefined. */
export function getItem(ds: Dataset | undefined, t: number): Dataset | undefined {
  return getSequence(ds, t)[0];
}

export function getBytes(ds: Dataset | undefined, t: number): Uint8Array | undefined {
  const v = ds?.get(t)?.value;
  return v instanceof Uint8Array ? v : undefined;
}
