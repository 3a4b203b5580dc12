/**
 * Multi-well plates: well ids and field numbers parsed from image file names, and per-well aggregation.
 * Recognised name patterns (case-insensitive), most specific first:
 *   r02c07f03 ............ Harmony/Operetta: row 2, column 7, field 3 (1-based)
 *   ..._B07_s2 / B07_f2 .. MetaXpress-style: well B07, site/field 2
 *   ..._B07 / ..._B7 ..... a well id between separators (or at the ends of the name)
 * A custom --well-pattern is a regular expression with named groups: `well` (e.g. B07) or `row` (letter
 * or 1-based number) and `col` (1-based), and optionally `field` and `plate`.
 */
import path from 'node:path';
import { ConfigError } from '../errors.ts';

export type PlateFormat = 96 | 384;

export const PLATE_SHAPE: Record<PlateFormat, { rows: number; cols: number }> = {
  96: { rows: 8, cols: 12 },
  384: { rows: 16, cols: 24 },
};

export interface WellPosition {
  /** Normalised id: row letter and two-digit column, e.g. B07. */
  well: string;
  /** 0-based. */
  row: number;
  /** 0-based. */
  col: number;
  /** 1-based field (site) number; 1 when the name has none. */
  field: number;
}

export interface PlateImage extends WellPosition {
  plate: string;
}

const HARMONY = /(?:^|[^a-z0-9])r(\d{1,2})c(\d{1,2})(?:f(\d{1,3}))?/i;
const WELL_FIELD = /(?:^|[^a-z0-9])([a-p])(\d{1,2})[_-](?:s|f|site|field)(\d{1,3})(?![0-9])/i;
const WELL = /(?:^|[^a-z0-9])([a-p])(\d{1,2})(?=$|[^a-z0-9])/i;

export function wellId(row: number, col: number): string {
  return `${String.fromCharCode(65 + row)}${String(col + 1).padStart(2, '0')}`;
}

function rowIndex(token: string): number {
  return /^\d+$/.test(token) ? Number(token) - 1 : token.toUpperCase().charCodeAt(0) - 65;
}

export function compileWellPattern(source: string): RegExp {
  let re: RegExp;
  try {
    re = new RegExp(source, 'i');
  } catch (err) {
    throw new ConfigError(`--well-pattern is not a valid regular expression: ${(err as Error).message}`);
  }
  const groups = /\(\?<(\w+)>/g;
  const names = new Set([...source.matchAll(groups)].map((m) => m[1]));
  if (!names.has('well') && !(names.has('row') && names.has('col'))) {
    throw new ConfigError('--well-pattern needs a named group (?<well>…) or both (?<row>…) and (?<col>…)');
  }
  return re;
}

/**
 * Well position of an image file name, or undefined when the name carries none.
 * Throws ConfigError when a parsed well lies outside the given plate format.
 */
export function parseWell(file: string, plate: PlateFormat = 96, pattern?: RegExp): WellPosition | undefined {
  const name = path.basename(file).replace(/\.[a-z0-9]+$/i, '');
  let row: number;
  let col: number;
  let field = 1;
  if (pattern) {
    const m = pattern.exec(name);
    if (!m?.groups) return undefined;
    const g = m.groups;
    if (g.well) {
      const w = /^([a-p])(\d{1,2})$/i.exec(g.well);
      if (!w) throw new ConfigError(`--well-pattern matched '${g.well}' in ${file}, which is not a well id`);
      row = rowIndex(w[1]);
      col = Number(w[2]) - 1;
    } else {
      row = rowIndex(g.row);
      col = Number(g.col) - 1;
    }
    if (g.field) field = Number(g.field);
  } else {
    const harmony = HARMONY.exec(name);
    const wellField = harmony ? null : WELL_FIELD.exec(name);
    const well = harmony || wellField ? null : WELL.exec(name);
    if (harmony) {
      row = Number(harmony[1]) - 1;
      col = Number(harmony[2]) - 1;
      if (harmony[3]) field = Number(harmony[3]);
    } else if (wellField) {
      row = rowIndex(wellField[1]);
      col = Number(wellField[2]) - 1;
      field = Number(wellField[3]);
    } else if (well) {
      row = rowIndex(well[1]);
      col = Number(well[2]) - 1;
    } else {
      return undefined;
    }
  }
  const shape = PLATE_SHAPE[plate];
  if (!(row >= 0 && row < shape.rows && col >= 0 && col < shape.cols)) {
    throw new ConfigError(
      `${path.basename(file)}: well row ${row + 1}, column ${col + 1} is outside a ${plate}-well plate (${shape.rows}×${shape.cols})`,
    );
  }
  return { well: wellId(row, col), row, col, field };
}

/** Plate name of an image: the `plate` group of a custom pattern, else its folder's name. */
export function plateName(file: string, pattern?: RegExp): string {
  const g = pattern?.exec(path.basename(file))?.groups;
  return g?.plate ?? path.basename(path.dirname(path.resolve(file)));
}

export interface FieldCount extends PlateImage {
  count: number;
  meanArea?: number;
}

export interface WellAggregate {
  plate: string;
  well: string;
  row: number;
  col: number;
  fields: number;
  /** Sum over fields. */
  count: number;
  /** Area per cell over all fields (weighted by each field's count). */
  meanArea?: number;
}

export function aggregateWells(fields: readonly FieldCount[]): WellAggregate[] {
  const byWell = new Map<string, WellAggregate & { areaSum: number; areaCells: number }>();
  for (const f of fields) {
    const key = `${f.plate}\u0000${f.well}`;
    let w = byWell.get(key);
    if (!w) {
      w = {
        plate: f.plate,
        well: f.well,
        row: f.row,
        col: f.col,
        fields: 0,
        count: 0,
        areaSum: 0,
        areaCells: 0,
      };
      byWell.set(key, w);
    }
    w.fields++;
    w.count += f.count;
    if (f.meanArea !== undefined) {
      w.areaSum += f.meanArea * f.count;
      w.areaCells += f.count;
    }
  }
  return [...byWell.values()]
    .map(({ areaSum, areaCells, ...w }) => ({
      ...w,
      meanArea: areaCells > 0 ? areaSum / areaCells : undefined,
    }))
    .sort((a, b) => a.plate.localeCompare(b.plate) || a.row - b.row || a.col - b.col);
}
