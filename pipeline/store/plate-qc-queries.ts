/** Typed queries of migration 004: per-field method and QC, per-well statistics, per-plate Z′. */
import type { PlateStats, WellStats } from '../counting/wells.ts';
import type { Store } from './db.ts';

export interface FieldQcRow {
  slideId: string;
  method: string;
  modelId: string;
  channel?: string;
  focus?: number;
  saturated?: number;
  mean?: number;
  flags: string[];
}

export function upsertFieldQc(store: Store, runId: number, r: FieldQcRow): void {
  store.db
    .prepare(
      `INSERT INTO field_qc (run_id, slide_id, method, model_id, channel, focus, saturated, mean, flags)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, slide_id) DO UPDATE SET method = excluded.method, model_id = excluded.model_id,
         channel = excluded.channel, focus = excluded.focus, saturated = excluded.saturated,
         mean = excluded.mean, flags = excluded.flags`,
    )
    .run(
      runId,
      r.slideId,
      r.method,
      r.modelId,
      r.channel ?? null,
      Number.isFinite(r.focus) ? r.focus : null,
      r.saturated ?? null,
      r.mean ?? null,
      r.flags.join('+'),
    );
}

/** Flags are decided once the plate is complete: rewrite them for the run's fields. */
export function setFieldFlags(
  store: Store,
  runId: number,
  flags: ReadonlyMap<string, readonly string[]>,
): void {
  const stmt = store.db.prepare('UPDATE field_qc SET flags = ? WHERE run_id = ? AND slide_id = ?');
  store.db.transaction(() => {
    for (const [slideId, f] of flags) stmt.run(f.join('+'), runId, slideId);
  })();
}

export function fieldQcOfRun(store: Store, runId: number): Map<string, FieldQcRow> {
  const rows = store.db
    .prepare(
      'SELECT slide_id, method, model_id, channel, focus, saturated, mean, flags FROM field_qc WHERE run_id = ?',
    )
    .all(runId) as {
    slide_id: string;
    method: string;
    model_id: string;
    channel: string | null;
    focus: number | null;
    saturated: number | null;
    mean: number | null;
    flags: string;
  }[];
  return new Map(
    rows.map((r) => [
      r.slide_id,
      {
        slideId: r.slide_id,
        method: r.method,
        modelId: r.model_id,
        channel: r.channel ?? undefined,
        focus: r.focus ?? undefined,
        saturated: r.saturated ?? undefined,
        mean: r.mean ?? undefined,
        flags: r.flags ? r.flags.split('+') : [],
      },
    ]),
  );
}

export function replacePlateResults(
  store: Store,
  runId: number,
  wells: readonly WellStats[],
  plates: readonly PlateStats[],
): void {
  store.db.transaction(() => {
    store.db.prepare('DELETE FROM well_stats WHERE run_id = ?').run(runId);
    store.db.prepare('DELETE FROM plate_stats WHERE run_id = ?').run(runId);
    const w = store.db.prepare(
      `INSERT INTO well_stats (run_id, plate, well, row, col, condition, concentration, role, fields,
         fields_used, counts_json, mean, sd, cv) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const s of wells) {
      w.run(
        runId,
        s.plate,
        s.well,
        s.row,
        s.col,
        s.condition ?? null,
        s.concentration ?? null,
        s.role ?? null,
        s.fields,
        s.fieldsUsed,
        JSON.stringify(s.counts),
        s.mean ?? null,
        s.sd ?? null,
        s.cv ?? null,
      );
    }
    const p = store.db.prepare(
      `INSERT INTO plate_stats (run_id, plate, z_prime, positive_mean, positive_sd, negative_mean, negative_sd)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const s of plates) {
      p.run(
        runId,
        s.plate,
        s.zPrime ?? null,
        s.positive.mean ?? null,
        s.positive.sd ?? null,
        s.negative.mean ?? null,
        s.negative.sd ?? null,
      );
    }
  })();
}

export interface WellStatsRow {
  plate: string;
  well: string;
  row: number;
  col: number;
  condition: string | null;
  concentration: number | null;
  role: string | null;
  fields: number;
  fieldsUsed: number;
  counts: { field: number; count: number; flags: string[] }[];
  mean: number | null;
  sd: number | null;
  cv: number | null;
}

export function wellStatsOfRun(store: Store, runId: number): WellStatsRow[] {
  const rows = store.db
    .prepare(
      `SELECT plate, well, row, col, condition, concentration, role, fields, fields_used, counts_json, mean, sd, cv
       FROM well_stats WHERE run_id = ? ORDER BY plate, row, col`,
    )
    .all(runId) as (Omit<WellStatsRow, 'fieldsUsed' | 'counts'> & {
    fields_used: number;
    counts_json: string;
  })[];
  return rows.map(({ fields_used, counts_json, ...r }) => ({
    ...r,
    fieldsUsed: fields_used,
    counts: JSON.parse(counts_json),
  }));
}

export function plateStatsOfRun(
  store: Store,
  runId: number,
): { plate: string; zPrime: number | null; positiveMean: number | null; negativeMean: number | null }[] {
  return store.db
    .prepare(
      `SELECT plate, z_prime AS zPrime, positive_mean AS positiveMean, negative_mean AS negativeMean
       FROM plate_stats WHERE run_id = ? ORDER BY plate`,
    )
    .all(runId) as {
    plate: string;
    zPrime: number | null;
    positiveMean: number | null;
    negativeMean: number | null;
  }[];
}

/** What the plate view shows beyond counts: Z′, plate-map roles and conditions, per-field QC flags. */
export interface PlateQc {
  zPrime: number | null;
  wells: Record<
    string,
    {
      condition: string | null;
      concentration: number | null;
      role: string | null;
      fieldsUsed: number;
      mean: number | null;
      sd: number | null;
      cv: number | null;
      flagged: { field: number; flags: string[] }[];
    }
  >;
}

export function plateQc(store: Store, runId: number, plate: string): PlateQc {
  const z = store.db
    .prepare('SELECT z_prime AS zPrime FROM plate_stats WHERE run_id = ? AND plate = ?')
    .get(runId, plate) as { zPrime: number | null } | undefined;
  const wells: PlateQc['wells'] = {};
  for (const w of wellStatsOfRun(store, runId)) {
    if (w.plate !== plate) continue;
    wells[w.well] = {
      condition: w.condition,
      concentration: w.concentration,
      role: w.role,
      fieldsUsed: w.fieldsUsed,
      mean: w.mean,
      sd: w.sd,
      cv: w.cv,
      flagged: w.counts.filter((c) => c.flags.length).map((c) => ({ field: c.field, flags: c.flags })),
    };
  }
  return { zPrime: z?.zPrime ?? null, wells };
}
