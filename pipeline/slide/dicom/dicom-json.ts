/** DICOM JSON (PS3.18 F.2, as DICOMweb /metadata returns it) → the same Dataset model as files. */
import type { Dataset, DicomValue } from './dataset.ts';

interface JsonElement {
  vr?: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type JsonDataset = Record<string, JsonElement>;

const NUMERIC_VRS = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'UV', 'SV']);

function elementValue(vr: string, el: JsonElement): DicomValue | undefined {
  if (el.InlineBinary !== undefined) return new Uint8Array(Buffer.from(el.InlineBinary, 'base64'));
  const v = el.Value;
  if (!v) return undefined;
  if (vr === 'SQ') return v.map((item) => datasetFromJson(item as JsonDataset));
  if (vr === 'PN') {
    return v
      .map((p) =>
        typeof p === 'object' && p ? String((p as { Alphabetic?: string }).Alphabetic ?? '') : String(p),
      )
      .join('\\');
  }
  if (vr === 'AT') return v.map((s) => Number.parseInt(String(s), 16));
  if (NUMERIC_VRS.has(vr)) return v.map(Number);
  return v.map((s) => (s === null ? '' : String(s))).join('\\');
}

export function datasetFromJson(json: JsonDataset): Dataset {
  const ds: Dataset = new Map();
  for (const [key, el] of Object.entries(json)) {
    if (!/^[0-9A-Fa-f]{8}$/.test(key) || !el || typeof el !== 'object') continue;
    const vr = el.vr ?? 'UN';
    const value = elementValue(vr, el);
    if (value !== undefined) ds.set(Number.parseInt(key, 16) >>> 0, { vr, value });
  }
  return ds;
}
