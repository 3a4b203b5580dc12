/**
 * Data-parallel training throughput of the default patch classifier (fcn-small, 68 × 68 patches, batch
 * 32, Adam, binary cross-entropy, default augmentation, wasm backend with our convolution gradient
 * kernels): 1 worker (the in-thread training step) vs 2 workers (pipeline/train/data-parallel.ts: the main
 * thread and one pool worker each augment and take half the batch), the same samples each.
 *
 * Robust to other work on the machine as far as a bench can be: both configurations are built once and
 * measured in ROUNDS interleaved rounds (1, 2, then 2, 1, ...), so load that comes and goes hits both;
 * the headline samples/s is the best round of each (the least disturbed), the speedup their ratio. CPU
 * time per sample comes from /proc per thread (main thread, the busiest other thread = the pool worker
 * in the 2-worker runs, and the rest: GC and libuv helpers), and gives a load-independent estimate: on
 * an idle 2-core machine a step lasts at least as long as its busiest thread and half the total CPU.
 * The 1-minute load average is printed before and after.
 *
 * Run: npx tsx bench/train-step.ts [steps=8] [rounds=3]. Last line: JSON {samples_per_s_1, samples_per_s_2,
 * speedup, ...}. (This bench used to compare the wasm and cpu backends; that version is in its git history.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../pipeline/models/backend.ts';
import { DEFAULT_NORMALISATION } from '../pipeline/models/normalise.ts';
import { archGeometry, buildPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { Adam } from '../pipeline/train/adam.ts';
import { augmentPatch, DEFAULT_AUGMENT, drawAugment } from '../pipeline/train/augment.ts';
import { createDataParallel } from '../pipeline/train/data-parallel.ts';
import { bceTensor } from '../pipeline/train/score.ts';
import { createRng } from '../pipeline/util/rng.ts';

const steps = Number(process.argv[2] ?? 8);
const rounds = Number(process.argv[3] ?? 3);
const B = 32;
const P = archGeometry(SMALL_ARCH).receptiveField;
const per = P * P * 3;
const load0 = loadavg()[0];
await useBackend('wasm');
const rng = createRng(3);
const pixels = Uint8Array.from({ length: B * per }, () => rng.int(256));
const y = Float32Array.from({ length: B }, (_, i) => i % 2);

/** CPU ms of every thread of this process (utime + stime from /proc, 10 ms ticks), by thread id. */
function threadCpuMs(): Map<number, number> {
  const out = new Map<number, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), ((Number(f[11]) + Number(f[12])) * 1000) / 100); // fields 14, 15 (1-based)
    } // a thread that ends between readdir and read is skipped by the catch below only if it is the last
  } catch {
    /* not Linux, or a thread ended mid-read: per-thread figures are NaN or partial */
  }
  return out;
}

interface Round {
  samplesPerS: number;
  cpuMsPerSample: number;
  mainMsPerSample: number;
  /** The busiest thread other than the main thread (the pool worker when there is one). */
  workerMsPerSample: number;
}

interface Config {
  workers: number;
  step(): Promise<void>;
  close(): Promise<void>;
}

function makeConfig(workers: number): Config {
  const model = buildPatchClassifier(SMALL_ARCH, { seed: 1 });
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const adam = new Adam(vars, { learningRate: 1e-3 });
  const dp =
    workers > 1
      ? createDataParallel({ model, arch: SMALL_ARCH, backend: 'wasm', patchSize: P, workers })
      : null;
  const augRng = createRng(5);
  const x = new Float32Array(B * per);
  const scratch = new Uint8Array(per);
  return {
    workers,
    async step() {
      // As the trainer does: every sample's augmentation drawn here; 2 workers apply each shard's in its thread.
      if (dp) {
        const draws = Array.from({ length: B }, () => drawAugment(augRng, DEFAULT_AUGMENT));
        const r = await dp.step({ pixels, draws, augment: DEFAULT_AUGMENT, norm: DEFAULT_NORMALISATION }, y);
        adam.applyGradients(r.grads);
        for (const g of r.grads) g.dispose();
        return;
      }
      for (let k = 0; k < B; k++)
        augmentPatch(
          pixels.subarray(k * per, (k + 1) * per),
          P,
          augRng,
          DEFAULT_AUGMENT,
          DEFAULT_NORMALISATION,
          x,
          k * per,
          scratch,
        );
      const xt = tf.tensor4d(x, [B, P, P, 3]);
      const yt = tf.tensor1d(y);
      adam.minimize(
        () =>
          bceTensor((model.apply(xt, { training: true }) as tf.Tensor).reshape([B]), yt).mean() as tf.Scalar,
      );
      tf.dispose([xt, yt]);
    },
    async close() {
      await dp?.close();
      adam.dispose();
      model.dispose();
    },
  };
}

async function measure(c: Config): Promise<Round> {
  const before = threadCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await c.step();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const after = threadCpuMs();
  const n = B * steps;
  let main = Number.NaN;
  let busiestOther = 0;
  for (const [tid, ms] of after) {
    const d = ms - (before.get(tid) ?? 0);
    if (tid === process.pid) main = d;
    else busiestOther = Math.max(busiestOther, d);
  }
  return {
    samplesPerS: n / seconds,
    cpuMsPerSample: (cpu.user + cpu.system) / 1000 / n,
    mainMsPerSample: main / n,
    workerMsPerSample: after.size ? busiestOther / n : Number.NaN,
  };
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const configs = [makeConfig(1), makeConfig(2)];
for (const c of configs) {
  await c.step(); // warm-up: worker start, kernel set-up
  await c.step();
}
const results: Round[][] = [[], []];
for (let r = 0; r < rounds; r++) {
  const order = r % 2 ? [1, 0] : [0, 1];
  for (const i of order) results[i].push(await measure(configs[i]));
  const [a, b] = [results[0][r], results[1][r]];
  process.stderr.write(
    `round ${r + 1}: 1 worker ${a.samplesPerS.toFixed(1)}, 2 workers ${b.samplesPerS.toFixed(1)} samples/s ` +
      `(load ${loadavg()[0].toFixed(2)})\n`,
  );
}
for (const c of configs) await c.close();

const summary = results.map((rs) => ({
  best: Math.max(...rs.map((r) => r.samplesPerS)),
  median: median(rs.map((r) => r.samplesPerS)),
  cpu: median(rs.map((r) => r.cpuMsPerSample)),
  main: median(rs.map((r) => r.mainMsPerSample)),
  worker: median(rs.map((r) => r.workerMsPerSample)),
}));
const [one, two] = summary;
const speedup = two.best / one.best;
const pairedMedian = median(results[1].map((r, i) => r.samplesPerS / results[0][i].samplesPerS));
// Idle 2-core machine: a step lasts at least as long as its busiest thread and half the process's CPU.
const bound = (s: (typeof summary)[number], threads: number[]) => Math.max(...threads, s.cpu / 2);
const cpuEstimate = bound(one, [one.main]) / bound(two, [two.main, two.worker]);
const load1 = loadavg()[0];
for (const [i, s] of summary.entries())
  process.stderr.write(
    `${i + 1} worker${i ? 's' : ' '}: best ${s.best.toFixed(1)}, median ${s.median.toFixed(1)} samples/s; ` +
      `CPU-ms per sample ${s.cpu.toFixed(1)} (main thread ${s.main.toFixed(1)}, busiest other ${s.worker.toFixed(1)})\n`,
  );
process.stderr.write(
  `speedup ${speedup.toFixed(2)}× best-of-${rounds} (median of paired rounds ${pairedMedian.toFixed(2)}×; target ≥ 1.7×); ` +
    `CPU-time estimate for an idle machine ${cpuEstimate.toFixed(2)}×\n` +
    `(${B * steps} samples per round, batch ${B}, ${P}×${P} patches; load average ${load0.toFixed(2)} → ${load1.toFixed(2)} on ` +
    `a shared 2-core machine: wall figures are noisy when the load is above 0)\n`,
);
const r2 = (v: number) => Number(v.toFixed(2));
process.stdout.write(
  `${JSON.stringify({
    samples_per_s_1: r2(one.best),
    samples_per_s_2: r2(two.best),
    speedup: r2(speedup),
    paired_median_speedup: r2(pairedMedian),
    cpu_ms_per_sample_1: r2(one.cpu),
    cpu_ms_per_sample_2: r2(two.cpu),
    main_thread_cpu_ms_per_sample_2: r2(two.main),
    worker_thread_cpu_ms_per_sample_2: r2(two.worker),
    cpu_speedup_estimate: r2(cpuEstimate),
    rounds,
    loadavg_1min: [r2(load0), r2(load1)],
  })}\n`,
);
