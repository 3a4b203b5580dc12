/** Reading and writing out-of-distribution verdicts (table slide_ood, schemas/005_ood.sql). */
import type { Store } from '../store/index.ts';
import type { OodVerdict } from './verdict.ts';

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
