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
 * With --trainer it also times the real training path (trainPatchClassifier: sampler, augmentation,
 * refresh and validation scoring, saves) on random patches, 1 vs 2 workers, in interleaved rounds.
 *
 * Run: npx tsx bench/train-step.ts [steps=8] [rounds=3] [--trainer]. Last line: JSON {samples_per_s_1, samples_per_s_2,
 * speedup, ...}. (This bench used to compare the wasm and cpu backends; that version is in its git history.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../pipeline/models/backend.ts';
import { DEFAULT_NORMALISATION } from '../pipeline/models/normalise.ts';
import { archGeometry, buildPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { Adam } from '../pipeline/train/adam.ts';
import { augmentPatch, DEFAULT_AUGMENT, drawAugment } from '../pipeline/train/augment.ts';
import { createDataParallel } from '../pipeline/train/data-parallel.ts';
import { memoryPatchSet, type PatchSet } from '../pipeline/train/dataset.ts';
import { bceTensor } from '../pipeline/train/score.ts';
import { DEFAULT_TRAIN, trainPatchClassifier } from '../pipeline/train/trainer.ts';
import { createRng } from '../pipeline/util/rng.ts';

const args = process.argv.slice(2).filter((a) => a !== '--trainer');
const withTrainer = process.argv.includes('--trainer');
const steps = Number(args[0] ?? 8);
const rounds = Number(args[1] ?? 3);
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

/** CPU and wall from `start` to now, per sample: process, main thread, busiest other thread. */
function since(start: { threads: Map<number, number>; cpu: NodeJS.CpuUsage; t: number }, n: number): Round {
  const seconds = (performance.now() - start.t) / 1000;
  const cpu = process.cpuUsage(start.cpu);
  const after = threadCpuMs();
  let main = Number.NaN;
  let busiestOther = 0;
  for (const [tid, ms] of after) {
    const d = ms - (start.threads.get(tid) ?? 0);
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

const mark = () => ({ threads: threadCpuMs(), cpu: process.cpuUsage(), t: performance.now() });

async function measure(c: Config): Promise<Round> {
  const start = mark();
  for (let i = 0; i < steps; i++) await c.step();
  return since(start, B * steps);
}

/**
 * The real training path (trainPatchClassifier): sampler, augmentation, steps, refresh scoring every 10
 * steps (128 patches) and validation every 10 (400 patches), model and checkpoint saves, on random
 * patches (throughput only: nothing is learnt). Per 50 steps that scores 2640 patches, about what the
 * defaults do (256 refresh + up to 2000 validation). Steps 1–2 (worker start) are not counted.
 */
async function trainerRound(workers: number, trainSteps: number): Promise<Round> {
  const patchSet = (n: number, seed: number): PatchSet => {
    const r = createRng(seed);
    const labels = Uint8Array.from({ length: n }, (_, i) => (i % 4 === 0 ? 1 : 0));
    return memoryPatchSet(
      Uint8Array.from({ length: n * per }, () => r.int(256)),
      labels,
      P,
    );
  };
  const dir = mkdtempSync(join(tmpdir(), 'train-step-bench-'));
  let start: ReturnType<typeof mark> | undefined;
  let result: Round | undefined;
  try {
    await trainPatchClassifier({
      train: patchSet(1000, 1),
      val: patchSet(400, 2),
      outDir: dir,
      resume: false,
      workers,
      config: {
        ...DEFAULT_TRAIN,
        sampler: 'cased',
        steps: trainSteps,
        valEvery: 10,
        refreshEvery: 10,
        refreshSize: 128,
        maxValPatches: 400,
      },
      onStep: (r) => {
        if (r.step === 2) start = mark();
        if (r.step === trainSteps && start) result = since(start, (trainSteps - 2) * B);
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (!result) throw new Error('trainer bench: no steps measured');
  return result;
}

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

interface Summary {
  best: number;
  median: number;
  cpu: number;
  main: number;
  worker: number;
  speedup: number;
  pairedMedian: number;
  cpuEstimate: number;
}

/** Best and median rates per configuration, their ratio, and the CPU-time estimate for an idle machine. */
function summarise(label: string, results: Round[][], samples: number): Summary {
  const s = results.map((rs) => ({
    best: Math.max(...rs.map((r) => r.samplesPerS)),
    median: median(rs.map((r) => r.samplesPerS)),
    cpu: median(rs.map((r) => r.cpuMsPerSample)),
    main: median(rs.map((r) => r.mainMsPerSample)),
    worker: median(rs.map((r) => r.workerMsPerSample)),
  }));
  const [one, two] = s;
  // Idle 2-core machine: a step lasts at least as long as its busiest thread and half the process's CPU.
  const bound = (c: (typeof s)[number], threads: number[]) => Math.max(...threads, c.cpu / 2);
  const out: Summary = {
    ...two,
    speedup: two.best / one.best,
    pairedMedian: median(results[1].map((r, i) => r.samplesPerS / results[0][i].samplesPerS)),
    cpuEstimate: bound(one, [one.main]) / bound(two, [two.main, two.worker]),
  };
  for (const [i, c] of s.entries())
    process.stderr.write(
      `${label}, ${i + 1} worker${i ? 's' : ' '}: best ${c.best.toFixed(1)}, median ${c.median.toFixed(1)} samples/s; ` +
        `CPU-ms per sample ${c.cpu.toFixed(1)} (main thread ${c.main.toFixed(1)}, busiest other ${c.worker.toFixed(1)})\n`,
    );
  process.stderr.write(
    `${label}: speedup ${out.speedup.toFixed(2)}× best-of-${results[0].length} (median of paired rounds ` +
      `${out.pairedMedian.toFixed(2)}×; target ≥ 1.7×); CPU-time estimate for an idle machine ${out.cpuEstimate.toFixed(2)}× ` +
      `(${samples} samples per round)\n`,
  );
  return out;
}

/** Rounds of both worker counts, interleaved (1, 2 then 2, 1, ...). */
async function rounds2(
  label: string,
  n: number,
  run: (workers: number) => Promise<Round>,
): Promise<Round[][]> {
  const results: Round[][] = [[], []];
  for (let r = 0; r < n; r++) {
    for (const i of r % 2 ? [1, 0] : [0, 1]) results[i].push(await run(i + 1));
    process.stderr.write(
      `${label} round ${r + 1}: 1 worker ${results[0][r].samplesPerS.toFixed(1)}, 2 workers ` +
        `${results[1][r].samplesPerS.toFixed(1)} samples/s (load ${loadavg()[0].toFixed(2)})\n`,
    );
  }
  return results;
}

const configs = [makeConfig(1), makeConfig(2)];
for (const c of configs) {
  await c.step(); // warm-up: worker start, kernel set-up
  await c.step();
}
const stepResults = await rounds2('step', rounds, (w) => measure(configs[w - 1]));
for (const c of configs) await c.close();
const step = summarise('step', stepResults, B * steps);
const TRAINER_STEPS = 22;
const trainer = withTrainer
  ? summarise(
      'trainer',
      await rounds2('trainer', rounds, (w) => trainerRound(w, TRAINER_STEPS)),
      (TRAINER_STEPS - 2) * B,
    )
  : undefined;
const load1 = loadavg()[0];
process.stderr.write(
  `(batch ${B}, ${P}×${P} patches; load average ${load0.toFixed(2)} → ${load1.toFixed(2)} on a shared 2-core ` +
    `machine: wall figures are noisy when the load is above 0)\n`,
);
const r2 = (v: number) => Number(v.toFixed(2));
const one = stepResults[0];
process.stdout.write(
  `${JSON.stringify({
    samples_per_s_1: r2(Math.max(...one.map((r) => r.samplesPerS))),
    samples_per_s_2: r2(step.best),
    speedup: r2(step.speedup),
    paired_median_speedup: r2(step.pairedMedian),
    cpu_ms_per_sample_1: r2(median(one.map((r) => r.cpuMsPerSample))),
    cpu_ms_per_sample_2: r2(step.cpu),
    main_thread_cpu_ms_per_sample_2: r2(step.main),
    worker_thread_cpu_ms_per_sample_2: r2(step.worker),
    cpu_speedup_estimate: r2(step.cpuEstimate),
    ...(trainer
      ? {
          trainer_speedup: r2(trainer.speedup),
          trainer_paired_median_speedup: r2(trainer.pairedMedian),
          trainer_cpu_speedup_estimate: r2(trainer.cpuEstimate),
        }
      : {}),
    rounds,
    loadavg_1min: [r2(load0), r2(load1)],
  })}\n`,
);
