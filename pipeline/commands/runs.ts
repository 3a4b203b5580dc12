/** `wsi runs [--db FILE] [RUN]`: the runs in a store, and one run's failed slides with their errors. */
import { existsSync } from 'node:fs';
import { parseFlags, stringFlag } from '../args.ts';
import { ConfigError, StoreError } from '../errors.ts';
import { openStore, type Store } from '../store/db.ts';
import { getRun, listRuns, type RunRow, runFailures, runSlideCounts, runTimings } from '../store/runs.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi runs [--db results.sqlite] [RUN]

Lists the runs in the store: id, kind, status, slides done / failed, wall time of the last attempt with
slides/s and units/s (patches, tiles, images), the model, and the settings that identify the run.
With a run id: that run in full, and each failed slide with the step that failed and its one-line error.
`;

function modelName(store: Store, id: number | null): string {
  if (id === null) return '-';
  const r = store.db.prepare('SELECT name FROM models WHERE id = ?').get(id) as { name: string } | undefined;
  return r ? `${r.name} (#${id})` : `#${id}`;
}

/** The settings in one short line (hashes shortened). */
function configSummary(config: Record<string, unknown>): string {
  return Object.entries(config)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => {
      let s = typeof v === 'string' ? v : JSON.stringify(v);
      if (/^[0-9a-f]{64}$/.test(s)) s = `${s.slice(0, 12)}…`;
      if (s.length > 40) s = `${s.slice(0, 37)}…`;
      return `${k}=${s}`;
    })
    .join(' ');
}

function timingText(t: Record<string, unknown>): string {
  if (typeof t.wallS !== 'number') return '-';
  const rate = (v: unknown) => (typeof v === 'number' ? v.toFixed(2) : '?');
  return `${t.wallS.toFixed(1)} s, ${rate(t.slidesPerS)} slides/s, ${rate(t.unitsPerS)} units/s`;
}

function line(store: Store, r: RunRow): string {
  const n = runSlideCounts(store, r.id);
  return [
    String(r.id).padStart(4),
    r.kind.padEnd(9),
    r.status.padEnd(7),
    `${n.done} done, ${n.failed} failed`.padEnd(20),
    timingText(runTimings(store, r.id)).padEnd(40),
    modelName(store, r.modelId),
    configSummary(r.config),
  ].join('  ');
}

export const command: Command = {
  name: 'runs',
  summary: 'list runs (kind, status, slides done/failed, timings, model), or one run with its failed slides',
  usage,
  async run(argv) {
    const p = parseFlags(argv, { db: { type: 'string' } });
    const db = stringFlag(p, 'db') ?? 'results.sqlite';
    if (!existsSync(db)) throw new StoreError(`no store at ${db} (give --db FILE)`);
    if (p.positionals.length > 1) throw new ConfigError('give at most one run id');
    const id = p.positionals.length ? Number(p.positionals[0]) : undefined;
    if (id !== undefined && !(Number.isInteger(id) && id >= 1))
      throw new ConfigError(`RUN must be a run id (a positive integer), got '${p.positionals[0]}'`);
    // Read-write so an older store gets the run_failures table (migrations) before it is queried.
    const store = openStore(db);
    try {
      const out = (s: string) => process.stdout.write(`${s}\n`);
      if (id === undefined) {
        const runs = listRuns(store);
        if (runs.length === 0) out(`no runs in ${db}`);
        for (const r of runs) out(line(store, r));
        return 0;
      }
      const r = getRun(store, id);
      if (!r) throw new ConfigError(`no run ${id} in ${db}`);
      out(line(store, r));
      out(
        `  started ${r.startedAt}, ${r.attempts} attempt(s), finished ${r.finishedAt ?? '-'}, total ${r.elapsedS.toFixed(1)} s`,
      );
      out(`  config ${JSON.stringify(r.config)}`);
      out(`  counts ${JSON.stringify(r.counts)}`);
      out(`  timings ${JSON.stringify(runTimings(store, r.id))}`);
      const failures = runFailures(store, r.id);
      if (failures.length) out(`  failed slides (${failures.length}):`);
      for (const f of failures) out(`    ${f.source} [${f.step}]: ${f.error}`);
      return 0;
    } finally {
      store.close();
    }
  },
};
