/**
 * Per-well statistics of a plate run: counts per field, mean, SD and CV over the fields that passed
 * QC (or all of them with keepFlagged), the plate map's condition and role per well, Z′-factor per
 * plate from the control wells (Zhang, Chung & Oldenburg 1999: Z′ = 1 − 3(σp + σn) / |μp − μn|, over
 * the well means of the positive and negative controls), and means per condition.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.ts';
import { csvLine } from '../io/csv.ts';
import { wellId } from './plate.ts';

export type Role = 'positive' | 'negative' | 'sample' | 'empty';
const ROLES: readonly Role[] = ['positive', 'negative', 'sample', 'empty'];

export interface PlateMapEntry {
  condition: string;
  concentration?: number;
  role: Role;
}

/** Splits one CSV line (RFC 4180 quotes). */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

/** Normalises A1 / a01 / A001 to A01; undefined when it is not a well id. */
export function normaliseWell(s: string): string | undefined {
  const m = /^([a-p])0*(\d{1,2})$/i.exec(s.trim());
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 24) return undefined;
  return wellId(m[1].toUpperCase().charCodeAt(0) - 65, Number(m[2]) - 1);
}

/**
 * A plate map: CSV with a header naming at least `well` and `role` (`condition` and `concentration`
 * optional; other columns ignored). One map applies to every plate of the run.
 */
export function parsePlateMap(text: string, source = 'plate map'): Map<string, PlateMapEntry> {
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '');
  if (lines.length === 0) throw new ConfigError(`${source} is empty`);
  const header = splitCsv(lines[0]).map((h) => h.toLowerCase());
  const col = (name: string) => header.indexOf(name);
  if (col('well') < 0 || col('role') < 0) {
    throw new ConfigError(`${source}: the header needs columns well and role (got ${header.join(',')})`);
  }
  const map = new Map<string, PlateMapEntry>();
  lines.slice(1).forEach((line, k) => {
    const v = splitCsv(line);
    const where = `${source} line ${k + 2}`;
    const well = normaliseWell(v[col('well')] ?? '');
    if (!well) throw new ConfigError(`${where}: '${v[col('well')]}' is not a well id`);
    if (map.has(well)) throw new ConfigError(`${where}: well ${well} appears twice`);
    const role = (v[col('role')] ?? '').toLowerCase() as Role;
    if (!ROLES.includes(role))
      throw new ConfigError(`${where}: role must be one of ${ROLES.join(', ')}, got '${role}'`);
    const concText = col('concentration') >= 0 ? (v[col('concentration')] ?? '') : '';
    const concentration = concText === '' ? undefined : Number(concText);
    if (concentration !== undefined && !Number.isFinite(concentration)) {
      throw new ConfigError(`${where}: concentration '${concText}' is not a number`);
    }
    map.set(well, {
      condition: col('condition') >= 0 ? (v[col('condition')] ?? '') : '',
      concentration,
      role,
    });
  });
  return map;
}

export function readPlateMap(file: string): Map<string, PlateMapEntry> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError(`--plate-map: cannot read ${file}`);
  }
  return parsePlateMap(text, file);
}

export interface FieldRecord {
  plate: string;
  well: string;
  row: number;
  col: number;
  field: number;
  count: number;
  flags: readonly string[];
}

export interface WellStats {
  plate: string;
  well: string;
  row: number;
  col: number;
  condition?: string;
  concentration?: number;
  role?: Role;
  fields: number;
  fieldsUsed: number;
  /** Field number → count, in field order. */
  counts: { field: number; count: number; flags: readonly string[] }[];
  /** Over the used fields; undefined when none is left. */
  mean?: number;
  sd?: number;
  cv?: number;
}

function meanSd(v: readonly number[]): { mean?: number; sd?: number } {
  if (v.length === 0) return {};
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const sd =
    v.length > 1 ? Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / (v.length - 1)) : undefined;
  return { mean, sd };
}

export function wellStats(
  fields: readonly FieldRecord[],
  map?: Map<string, PlateMapEntry>,
  keepFlagged = false,
): WellStats[] {
  const by = new Map<string, FieldRecord[]>();
  for (const f of fields) {
    const k = `${f.plate}\u0000${f.well}`;
    by.set(k, [...(by.get(k) ?? []), f]);
  }
  const out: WellStats[] = [];
  for (const fs of by.values()) {
    const sorted = [...fs].sort((a, b) => a.field - b.field);
    const used = sorted.filter((f) => keepFlagged || f.flags.length === 0);
    const { mean, sd } = meanSd(used.map((f) => f.count));
    const m = map?.get(sorted[0].well);
    out.push({
      plate: sorted[0].plate,
      well: sorted[0].well,
      row: sorted[0].row,
      col: sorted[0].col,
      condition: m?.condition,
      concentration: m?.concentration,
      role: m?.role,
      fields: sorted.length,
      fieldsUsed: used.length,
      counts: sorted.map((f) => ({ field: f.field, count: f.count, flags: f.flags })),
      mean,
      sd,
      cv: mean !== undefined && sd !== undefined && mean > 0 ? sd / mean : undefined,
    });
  }
  return out.sort((a, b) => a.plate.localeCompare(b.plate) || a.row - b.row || a.col - b.col);
}

export interface PlateStats {
  plate: string;
  positive: { wells: number; mean?: number; sd?: number };
  negative: { wells: number; mean?: number; sd?: number };
  /** Undefined without at least two wells of each control with a mean. */
  zPrime?: number;
}

export function zPrime(pos: readonly number[], neg: readonly number[]): number | undefined {
  if (pos.length < 2 || neg.length < 2) return undefined;
  const p = meanSd(pos);
  const n = meanSd(neg);
  const gap = Math.abs(p.mean! - n.mean!);
  if (gap === 0) return undefined;
  return 1 - (3 * (p.sd! + n.sd!)) / gap;
}

export function plateStats(wells: readonly WellStats[]): PlateStats[] {
  const plates = [...new Set(wells.map((w) => w.plate))].sort();
  return plates.map((plate) => {
    const of = (role: Role) =>
      wells.filter((w) => w.plate === plate && w.role === role && w.mean !== undefined).map((w) => w.mean!);
    const pos = of('positive');
    const neg = of('negative');
    return {
      plate,
      positive: { wells: pos.length, ...meanSd(pos) },
      negative: { wells: neg.length, ...meanSd(neg) },
      zPrime: zPrime(pos, neg),
    };
  });
}

export interface ConditionStats {
  plate: string;
  condition: string;
  concentration?: number;
  role?: Role;
  wells: number;
  mean?: number;
  sd?: number;
}

/** Mean and SD of the well means per (plate, condition, concentration). */
export function conditionStats(wells: readonly WellStats[]): ConditionStats[] {
  const by = new Map<string, WellStats[]>();
  for (const w of wells) {
    if (w.condition === undefined) continue;
    const k = `${w.plate}\u0000${w.condition}\u0000${w.concentration ?? ''}`;
    by.set(k, [...(by.get(k) ?? []), w]);
  }
  return [...by.values()]
    .map((ws) => {
      const means = ws.filter((w) => w.mean !== undefined).map((w) => w.mean!);
      return {
        plate: ws[0].plate,
        condition: ws[0].condition!,
        concentration: ws[0].concentration,
        role: ws[0].role,
        wells: means.length,
        ...meanSd(means),
      };
    })
    .sort(
      (a, b) =>
        a.plate.localeCompare(b.plate) ||
        a.condition.localeCompare(b.condition) ||
        (a.concentration ?? -1) - (b.concentration ?? -1),
    );
}

/** Means and spreads to 3 decimals in the CSVs (the store keeps full precision). */
function round3(v: number | undefined): number | undefined {
  return v === undefined ? undefined : Math.round(v * 1000) / 1000;
}

export const WELLS_CSV_HEADER = [
  'plate',
  'well',
  'row',
  'column',
  'condition',
  'concentration',
  'role',
  'fields',
  'fields_used',
  'counts_per_field',
  'flags',
  'mean',
  'sd',
  'cv',
] as const;

/** wells.csv: counts per field as `12;15;0`, flags as `f3:empty;f4:out_of_focus`. */
export function wellsCsv(wells: readonly WellStats[]): string {
  let out = csvLine(WELLS_CSV_HEADER);
  for (const w of wells) {
    out += csvLine([
      w.plate,
      w.well,
      w.row + 1,
      w.col + 1,
      w.condition,
      w.concentration,
      w.role,
      w.fields,
      w.fieldsUsed,
      w.counts.map((c) => c.count).join(';'),
      w.counts
        .filter((c) => c.flags.length)
        .map((c) => `f${c.field}:${c.flags.join('+')}`)
        .join(';'),
      round3(w.mean),
      round3(w.sd),
      round3(w.cv),
    ]);
  }
  return out;
}

export function platesCsv(plates: readonly PlateStats[]): string {
  let out = csvLine([
    'plate',
    'z_prime',
    'positive_wells',
    'positive_mean',
    'positive_sd',
    'negative_wells',
    'negative_mean',
    'negative_sd',
  ]);
  for (const p of plates) {
    out += csvLine([
      p.plate,
      p.zPrime,
      p.positive.wells,
      round3(p.positive.mean),
      round3(p.positive.sd),
      p.negative.wells,
      round3(p.negative.mean),
      round3(p.negative.sd),
    ]);
  }
  return out;
}

export function conditionsCsv(rows: readonly ConditionStats[]): string {
  let out = csvLine(['plate', 'condition', 'concentration', 'role', 'wells', 'mean', 'sd']);
  for (const c of rows)
    out += csvLine([c.plate, c.condition, c.concentration, c.role, c.wells, c.mean, c.sd]);
  return out;
}
