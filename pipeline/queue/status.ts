/** `wsi queue status`: jobs per run and state, and the live workers with what each is running. */
import { parseQueueUrl, RUN_KEY, RUNS_SET, stateKey, WORKER_PATTERN } from './names.ts';
import { redisClient, whenReady } from './redis.ts';

export interface RunStatus {
  tag: string;
  label: string;
  waiting: number;
  active: number;
  delayed: number;
  completed: number;
  failed: number;
  /** Counters kept by submitters and workers: added, started, completed, attemptsFailed. */
  counters: Record<string, number>;
}

export interface WorkerStatus {
  name: string;
  host: string;
  pid: number;
  concurrency: number;
  started: string;
  done: number;
  failed: number;
  active: Array<{ id: string; kind: string; run: string; since: number }>;
}

export interface QueueStatus {
  runs: RunStatus[];
  workers: WorkerStatus[];
}

const LISTS = { waiting: ['wait', 'paused'], active: ['active'] } as const;
const SETS = { delayed: ['delayed', 'prioritized'], completed: ['completed'], failed: ['failed'] } as const;

export async function queueStatus(url: string, timeoutMs = 5000): Promise<QueueStatus> {
  const redis = redisClient(parseQueueUrl(url));
  try {
    await whenReady(redis, url, timeoutMs);
    const runs = new Map<string, RunStatus>();
    const runOf = (tag: string): RunStatus => {
      let r = runs.get(tag);
      if (!r) {
        r = { tag, label: tag, waiting: 0, active: 0, delayed: 0, completed: 0, failed: 0, counters: {} };
        runs.set(tag, r);
      }
      return r;
    };
    for (const tag of (await redis.smembers(RUNS_SET)).sort()) {
      const h = await redis.hgetall(RUN_KEY(tag));
      const r = runOf(tag);
      r.label = h.label ?? tag;
      for (const [k, v] of Object.entries(h)) if (/^\d+$/.test(v)) r.counters[k] = Number(v);
    }
    const count = (field: keyof Omit<RunStatus, 'tag' | 'label' | 'counters'>, ids: string[]) => {
      for (const id of ids) runOf(id.split('-')[0])[field]++;
    };
    for (const [field, keys] of Object.entries(LISTS))
      for (const k of keys) count(field as 'waiting', await redis.lrange(stateKey(k), 0, -1));
    for (const [field, keys] of Object.entries(SETS))
      for (const k of keys) count(field as 'completed', await redis.zrange(stateKey(k), 0, -1));
    const workers: WorkerStatus[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', WORKER_PATTERN, 'COUNT', 200);
      cursor = next;
      for (const k of keys) {
        const v = await redis.get(k);
        if (v) workers.push(JSON.parse(v) as WorkerStatus);
      }
    } while (cursor !== '0');
    workers.sort((a, b) => a.name.localeCompare(b.name));
    return { runs: [...runs.values()], workers };
  } finally {
    redis.disconnect();
  }
}

export function formatStatus(s: QueueStatus, now = Date.now()): string {
  const lines = ['run           waiting  active  delayed  completed  failed  label'];
  for (const r of s.runs) {
    lines.push(
      `${r.tag.padEnd(12)} ${String(r.waiting).padStart(8)} ${String(r.active).padStart(7)} ${String(r.delayed).padStart(8)} ${String(r.completed).padStart(10)} ${String(r.failed).padStart(7)}  ${r.label}`,
    );
  }
  if (s.runs.length === 0) lines.push('(no runs)');
  lines.push('', `${s.workers.length} worker(s) alive`);
  for (const w of s.workers) {
    const doing = w.active.length
      ? w.active.map((a) => `${a.kind} ${a.id} for ${((now - a.since) / 1000).toFixed(1)} s`).join('; ')
      : 'idle';
    lines.push(
      `  ${w.name} (${w.host} pid ${w.pid}, ${w.concurrency} at once): ${w.done} done, ${w.failed} failed; ${doing}`,
    );
  }
  return lines.join('\n');
}
