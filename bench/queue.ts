/**
 * Queue benchmark, on this machine:
 *  1. The same patch-export and FCN-inference workload (CMU-1-Small-Region + the TCGA sample, a small
 *     random-weight patch classifier as a fixture) on the local pool with 2 worker threads, and through
 *     BullMQ with 2 `wsi worker` processes (1 task each). `queue_vs_local` = local wall time / queue wall
 *     time (throughput ratio; target ≥ 0.85). The machine is shared, so CPU time (submitter + workers +
 *     redis-server, from /proc) is reported too: `cpu_local_vs_queue` = local CPU s / queue CPU s.
 *  2. The engine's ceiling: 16 worker processes (in-process tasks) running the near-empty `echo` task.
 *     jobs/s dispatched (added to Redis) and collected (results back in the submitter), and the per-job
 *     overhead in CPU ms summed over every process involved. `ceiling_vs_real` = collected jobs/s over
 *     the job rate of the real workload on the local pool (target ≥ 100).
 *
 *   npx tsx bench/queue.ts [--jobs 4000] [--ceiling-workers 16] [--skip-workload]
 *
 * Last line: {"queue_vs_local": …, "dispatch_jobs_per_s": …, "overhead_ms": …, …}
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { command as patchesCommand } from '../pipeline/commands/patches.ts';
import { useBackend } from '../pipeline/models/backend.ts';
import { type ModelMeta, saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { createQueueExecutor } from '../pipeline/queue/executor.ts';
import { queueStatus } from '../pipeline/queue/status.ts';
import { type QueueFlags, queueStageExecutor } from '../pipeline/queue/task-executor.ts';
import { inferSlides } from '../pipeline/stages/infer.ts';
import { openStore } from '../pipeline/store/index.ts';
import { CMU_SLIDE, TCGA_SLIDE, tempDir } from '../tests/helpers/paths.ts';
import { startWorker, stopWorkers, type TestWorker, waitForWorkers } from '../tests/helpers/queue.ts';
import { startRedis } from '../tests/helpers/redis.ts';

const { values: args } = parseArgs({
  options: {
    jobs: { type: 'string', default: '4000' },
    'ceiling-workers': { type: 'string', default: '16' },
    'skip-workload': { type: 'boolean', default: false },
  },
});

const TICKS = 100; // USER_HZ on Linux
/** CPU seconds of a process and all its threads (utime + stime from /proc/PID/stat). */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}
const selfCpu = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
};

function redisPid(port: number): number {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (cmd.startsWith('redis-server') && cmd.includes(`:${port}`)) return Number(d);
    } catch {}
  }
  return 0;
}

const tmp = tempDir('bench-queue');
const redis = await startRedis();
const rpid = redisPid(redis.port);
const log = (s: string) => process.stderr.write(`${s}\n`);
let workers: TestWorker[] = [];
const result: Record<string, number | null | string> = {};

async function measure(fn: () => Promise<number>, pids: () => number[]) {
  const pidList = pids();
  const c0 = selfCpu() + pidList.reduce((s, p) => s + cpuOf(p), 0);
  const t0 = performance.now();
  const jobs = await fn();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = selfCpu() + pidList.reduce((s, p) => s + cpuOf(p), 0) - c0;
  return { seconds, cpu, jobs };
}

try {
  let realJobRate = 0;
  if (!args['skip-workload']) {
    await useBackend('wasm');
    const modelDir = path.join(tmp.path, 'model');
    const { model, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 1.0, seed: 3 });
    const fixture: ModelMeta = {
      ...meta,
      training: {
        finishedAt: new Date().toISOString(),
        samples: 1,
        dataset: 'benchmark fixture (random weights)',
      },
    };
    await saveModel(modelDir, model, fixture);
    model.dispose();
    const workload = async (name: string, queue?: QueueFlags): Promise<number> => {
      const db = path.join(tmp.path, `${name}.sqlite`);
      const q = queue ? ['--queue', queue.url, '--queue-size', String(queue.size ?? 32)] : [];
      const code = await patchesCommand.run(
        [CMU_SLIDE, TCGA_SLIDE, '--db', db, '--mpp', '0.5', '--size', '128', '--assume-mpp', '0.5']
          .concat(['--export', path.join(tmp.path, `${name}-out`), '--workers', '2', '--batch', '8'])
          .concat(['--quiet', ...q]),
      );
      if (code !== 0) throw new Error(`wsi patches (${name}) exited ${code}`);
      const store = openStore(db);
      const patches = (store.db.prepare('SELECT count(*) AS n FROM patches').get() as { n: number }).n;
      const executor = queue ? await queueStageExecutor(queue, store, 'infer') : undefined;
      try {
        const s = await inferSlides({
          store,
          modelDir,
          slides: [CMU_SLIDE, TCGA_SLIDE],
          assumeMpp: 0.5,
          workers: 2,
          tileInput: 256,
          quiet: true,
          executor,
        });
        return Math.ceil(patches / 8) + s.slides.reduce((n, x) => n + (x.tilesRun ?? 0), 0);
      } finally {
        await executor?.close();
        store.close();
      }
    };
    workers = [
      startWorker(redis.url, 'bench-a', ['--quiet']),
      startWorker(redis.url, 'bench-b', ['--quiet']),
    ];
    await waitForWorkers(redis.url, 2);
    log('local pool (2 threads)…');
    const local = await measure(
      () => workload('local'),
      () => [],
    );
    log(`  ${local.jobs} tasks in ${local.seconds.toFixed(1)} s, ${local.cpu.toFixed(1)} CPU s`);
    log('queue (2 worker processes)…');
    const queued = await measure(
      () => workload('queue', { url: redis.url, size: 2 }),
      () => [...workers.map((w) => w.child.pid ?? 0), rpid],
    );
    log(`  ${queued.jobs} tasks in ${queued.seconds.toFixed(1)} s, ${queued.cpu.toFixed(1)} CPU s`);
    realJobRate = local.jobs / local.seconds;
    Object.assign(result, {
      queue_vs_local: Number((local.seconds / queued.seconds).toFixed(3)),
      cpu_local_vs_queue: Number((local.cpu / queued.cpu).toFixed(3)),
      real_jobs_per_s: Number(realJobRate.toFixed(2)),
      local_s: Number(local.seconds.toFixed(1)),
      queue_s: Number(queued.seconds.toFixed(1)),
    });
    await stopWorkers(workers);
    workers = [];
  }

  const n = Number(args.jobs);
  const nw = Number(args['ceiling-workers']);
  log(`ceiling: ${nw} worker processes, ${n} echo jobs…`);
  workers = Array.from({ length: nw }, (_, i) =>
    startWorker(redis.url, `echo-${i}`, ['--in-process', '--concurrency', '4', '--quiet']),
  );
  await waitForWorkers(redis.url, nw, 300_000);
  const exec = await createQueueExecutor({
    url: redis.url,
    runKey: `bench-echo-${Date.now()}`,
    size: n,
    maxInFlight: n,
  });
  // Warm-up: every worker has loaded the task file before timing starts.
  await Promise.all(Array.from({ length: nw * 8 }, (_, i) => exec.run('echo', { values: [-1, i] })));
  const pids = [...workers.map((w) => w.child.pid ?? 0), rpid];
  let dispatchedAt = 0;
  const cpuSplit = () => ({
    submitter: selfCpu(),
    workers: workers.reduce((t, w) => t + cpuOf(w.child.pid ?? 0), 0),
    redis: cpuOf(rpid),
  });
  const split0 = cpuSplit();
  const ceiling = await measure(
    async () => {
      const t0 = performance.now();
      const all = Array.from({ length: n }, (_, i) => exec.run<Float64Array>('echo', { values: [i, 1] }));
      // Dispatched: every job is in Redis (the executor batches its adds).
      while (exec.stats.added < nw * 8 + n && performance.now() - t0 < 600_000)
        await new Promise((r) => setTimeout(r, 5));
      dispatchedAt = (performance.now() - t0) / 1000;
      const out = await Promise.all(all);
      if (out.some((r, i) => r[0] !== i + 1)) throw new Error('echo results do not match their jobs');
      return n;
    },
    () => pids,
  );
  await exec.close();
  const split1 = cpuSplit();
  log(
    `  CPU s in the timed part: submitter ${(split1.submitter - split0.submitter).toFixed(2)}, workers ${(split1.workers - split0.workers).toFixed(2)}, redis ${(split1.redis - split0.redis).toFixed(2)}`,
  );
  const s = await queueStatus(redis.url);
  log(
    `  ${s.workers.length} workers, ${n} jobs collected in ${ceiling.seconds.toFixed(2)} s (dispatched in ${dispatchedAt.toFixed(2)} s), ${ceiling.cpu.toFixed(1)} CPU s`,
  );
  const collected = n / ceiling.seconds;
  Object.assign(result, {
    dispatch_jobs_per_s: Number((n / dispatchedAt).toFixed(0)),
    collect_jobs_per_s: Number(collected.toFixed(0)),
    overhead_ms: Number(((ceiling.cpu / n) * 1000).toFixed(3)),
    ceiling_vs_real: realJobRate ? Number((collected / realJobRate).toFixed(1)) : null,
    load_avg_1m: Number(loadavg()[0].toFixed(1)),
  });
} finally {
  await stopWorkers(workers);
  await redis.stop();
  tmp.cleanup();
}
console.log(JSON.stringify(result));
