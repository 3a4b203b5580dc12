/**
 * The end of a plate run: QC flags for every field (qc.ts), then wells.csv, and with a plate map
 * plates.csv (Z′ per plate) and conditions.csv (means per condition), beside the counts CSV, and the
 * same in the store. Flagged fields are left out of the well means unless keepFlagged.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../store/index.ts';
import { replacePlateResults, setFieldFlags } from '../store/plate-qc-queries.ts';
import type { CountCsvRow } from './csv.ts';
import { flagFields } from './qc.ts';
import {
  conditionStats,
  conditionsCsv,
  type PlateMapEntry,
  type PlateStats,
  plateStats,
  platesCsv,
  type WellStats,
  wellStats,
  wellsCsv,
} from './wells.ts';

export interface PlateResultsOptions {
  /** The counts CSV; the other files go beside it (counts.wells.csv, counts.plates.csv, …). */
  out: string;
  plateMap?: Map<string, PlateMapEntry>;
  keepFlagged: boolean;
  store?: Store;
  runId?: number;
  /** Slide id per row (store runs), to write the flags back. */
  slideIds?: readonly (string | undefined)[];
}

export interface PlateResults {
  wells: WellStats[];
  plates: PlateStats[];
  files: string[];
  /** Lines for the user. */
  summary: string[];
}

export function sideFile(out: string, suffix: string): string {
  return `${out.replace(/\.csv$/i, '')}.${suffix}.csv`;
}

/** Sets `flags` on every row, then writes and returns the per-well, per-plate and per-condition results. */
export function finishPlateResults(rows: CountCsvRow[], o: PlateResultsOptions): PlateResults {
  mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  const flags = flagFields(rows);
  rows.forEach((r, i) => {
    r.flags = flags[i];
  });
  if (o.store && o.runId !== undefined && o.slideIds) {
    const byId = new Map<string, string[]>();
    o.slideIds.forEach((id, i) => {
      if (id) byId.set(id, flags[i]);
    });
    setFieldFlags(o.store, o.runId, byId);
  }
  const summary: string[] = [];
  const flagged = rows.filter((r) => r.flags!.length > 0);
  if (flagged.length) {
    const kinds = new Map<string, number>();
    for (const r of flagged) for (const f of r.flags!) kinds.set(f, (kinds.get(f) ?? 0) + 1);
    summary.push(
      `QC: ${flagged.length} of ${rows.length} fields flagged (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')}); ` +
        (o.keepFlagged
          ? 'kept in the well means (--keep-flagged)'
          : 'left out of the well means (--keep-flagged keeps them)'),
    );
  }
  const fields = rows
    .filter((r) => r.well !== undefined)
    .map((r) => ({
      plate: r.plate!,
      well: r.well!,
      row: r.row!,
      col: r.col!,
      field: r.field ?? 1,
      count: r.count,
      flags: r.flags!,
    }));
  if (fields.length === 0) return { wells: [], plates: [], files: [], summary };
  if (o.plateMap) {
    const mapped = new Set(fields.map((f) => f.well).filter((w) => o.plateMap!.has(w)));
    const unmapped = new Set(fields.map((f) => f.well).filter((w) => !o.plateMap!.has(w)));
    if (unmapped.size)
      summary.push(`plate map: ${unmapped.size} imaged well(s) not in the map (e.g. ${[...unmapped][0]})`);
    if (mapped.size === 0) summary.push('plate map: no imaged well is in the map');
  }
  const wells = wellStats(fields, o.plateMap, o.keepFlagged);
  const files = [sideFile(o.out, 'wells')];
  writeFileSync(files[0], wellsCsv(wells));
  let plates: PlateStats[] = [];
  if (o.plateMap) {
    plates = plateStats(wells);
    files.push(sideFile(o.out, 'plates'), sideFile(o.out, 'conditions'));
    writeFileSync(files[1], platesCsv(plates));
    writeFileSync(files[2], conditionsCsv(conditionStats(wells)));
    for (const p of plates) {
      summary.push(
        p.zPrime === undefined
          ? `${p.plate}: Z′ not computed (needs ≥ 2 positive and ≥ 2 negative control wells with counts; has ${p.positive.wells} and ${p.negative.wells})`
          : `${p.plate}: Z′ = ${p.zPrime.toFixed(3)} (positive ${p.positive.mean!.toFixed(1)} ± ${p.positive.sd!.toFixed(1)}, negative ${p.negative.mean!.toFixed(1)} ± ${p.negative.sd!.toFixed(1)} cells per field, ${p.positive.wells}+${p.negative.wells} wells)`,
      );
    }
  }
  if (o.store && o.runId !== undefined) replacePlateResults(o.store, o.runId, wells, plates);
  summary.push(`per-well results → ${files.join(', ')}`);
  return { wells, plates, files, summary };
}
