/** Reading and writing out-of-distribution verdicts (table slide_ood, schemas/005_ood.sql). */
import type { Store } from '../store/index.ts';
import type { OodVerdict, SlideStats } from './verdict.ts';

/** Upsert: a rerun replaces the slide's verdict, never duplicates it. */
export function writeOodVerdict(store: Store, runId: number, slideId: string, v: OodVerdict): void {
  store.db
    .prepare(
      `INSERT INTO slide_ood (run_id, slide_id, out_of_distribution, reason, stats_json) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (run_id, slide_id) DO UPDATE SET out_of_distribution = excluded.out_of_distribution,
         reason = excluded.reason, stats_json = excluded.stats_json`,
    )
    .run(runId, slideId, v.outOfDistribution ? 1 : 0, v.reason, JSON.stringify(v.stats));
}

export interface StoredOod {
  slideId: string;
  outOfDistribution: boolean;
  reason: string;
}

export function readOodVerdicts(store: Store, runId: number): Map<string, StoredOod> {
  const rows = store.db
    .prepare('SELECT slide_id, out_of_distribution, reason FROM slide_ood WHERE run_id = ?')
    .all(runId) as { slide_id: string; out_of_distribution: number; reason: string }[];
  return new Map(
    rows.map((r) => [
      r.slide_id,
      { slideId: r.slide_id, outOfDistribution: r.out_of_distribution === 1, reason: r.reason },
    ]),
  );
}

/** The newest stored measurement of a slide (any run), or undefined. */
export function storedSlideStats(store: Store, slideId: string): SlideStats | undefined {
  const row = store.db
    .prepare('SELECT stats_json FROM slide_ood WHERE slide_id = ? ORDER BY run_id DESC LIMIT 1')
    .get(slideId) as { stats_json: string } | undefined;
  if (!row) return undefined;
  const s = JSON.parse(row.stats_json) as Partial<SlideStats>;
  // Only a complete measurement (the stain part is always there when one was made).
  return Array.isArray(s.h) && Array.isArray(s.e) && Array.isArray(s.maxConc) ? (s as SlideStats) : undefined;
}
