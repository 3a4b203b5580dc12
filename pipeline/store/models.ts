/** The models table: trained models registered with their config and metrics. */
import { resolve } from 'node:path';
import type { Store } from './db.ts';
import { canonicalJson } from './runs.ts';

export interface ModelRegistration {
  name: string;
  kind: string;
  path: string;
  config?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/** Registers a model directory (or updates its config/metrics); returns its id. */
export function registerModel(store: Store, m: ModelRegistration): number {
  const row = store.db
    .prepare(
      `INSERT INTO models (name, kind, path, config_json, metrics_json) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (path) DO UPDATE SET name = excluded.name, kind = excluded.kind,
         config_json = excluded.config_json, metrics_json = excluded.metrics_json
       RETURNING id`,
    )
    .get(m.name, m.kind, resolve(m.path), canonicalJson(m.config ?? {}), canonicalJson(m.metrics ?? {})) as {
    id: number;
  };
  return row.id;
}
