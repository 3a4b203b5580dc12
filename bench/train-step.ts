/**
 * Data-parallel training throughput of the default patch classifier (fcn-small, 68 × 68 patches, batch
 * 32, Adam, binary cross-entropy, wasm backend with our convolution gradient kernels): 1 worker (the
 * in-thread training step) vs 2 workers (pipeline/train/data-parallel.ts: the main thread and one pool
 * worker each take half the batch), the same number of samples each, both measured in this run.
 * Reports samples/s (wall) and process CPU time per sample (all threads; robust to other work on the
 * machine), with the main thread's share from /proc: the busiest thread bounds a step when each thread has a
 * core. Last line: JSON {samples_per_s_1, samples_per_s_2, speedup, cpu_ms_per_sample_1, ...}.
 * Run: npx tsx bench/train-step.ts [steps=8]. Wall figures are noisy when other work shares the cores.
 * (This bench used to compare the wasm and cpu backends; that version is in its git history.)
 */
import { readFileSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../pipeline/models/backend.ts';
import { archGeometry, buildPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { Adam } from '../pipeline/train/adam.ts';
import { createDataParallel } from '../pipeline/train/data-parallel.ts';
import { bceTensor } from '../pipeline/train/score.ts';
import { createRng } from '../pipeline/util/rng.ts';

const steps = Number(process.argv[2] ?? 8);
const B = 32;
const P = archGeometry(SMALL_ARCH).receptiveField;
await useBackend('wasm');
const rng = createRng(3);
const x = Float32Array.from({ length: B * P * P * 3 }, () => rng.normal());
const y = Float32Array.from({ length: B }, (_, i) => i % 2);

interface Rate {
  wall: number;
  cpuMsPerSample: number;
  /** CPU-ms per sample of the main thread alone (Linux /proc; NaN elsewhere). */
  mainMsPerSample: number;
}

/** CPU time of this process's main thread in ms (utime + stime from /proc, 10 ms ticks). */
function mainThreadCpuMs(): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // fields 14, 15 (1-based) after pid and comm
  } catch {
    return Number.NaN;
  }
}

async function measure(workers: number): Promise<Rate> {
  const model = buildPatchClassifier(SMALL_ARCH, { seed: 1 });
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const adam = new Adam(vars, { learningRate: 1e-3 });
  const dp =
    workers > 1
      ? createDataParallel({ model, arch: SMALL_ARCH, backend: 'wasm', patchSize: P, workers })
      : null;
  const step = async (): Promise<void> => {
    if (dp) {
      const r = await dp.step(x, y);
      adam.applyGradients(r.grads);
      for (const g of r.grads) g.dispose();
      return;
    }
    const xt = tf.tensor4d(x, [B, P, P, 3]);
    const yt = tf.tensor1d(y);
    adam.minimize(
      () =>
        bceTensor((model.apply(xt, { training: true }) as tf.Tensor).reshape([B]), yt).mean() as tf.Scalar,
    );
    tf.dispose([xt, yt]);
  };
  await step(); // warm-up: worker start, kernel set-up
  await step();
  const m0 = mainThreadCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const main = mainThreadCpuMs() - m0;
  await dp?.close();
  adam.dispose();
  model.dispose();
  return {
    wall: (B * steps) / seconds,
    cpuMsPerSample: (c.user + c.system) / 1000 / (B * steps),
    mainMsPerSample: main / (B * steps),
  };
}

const one = await measure(1);
process.stderr.write(
  `1 worker : ${one.wall.toFixed(1)} samples/s wall, ${one.cpuMsPerSample.toFixed(1)} CPU-ms per sample\n`,
);
const two = await measure(2);
process.stderr.write(
  `2 workers: ${two.wall.toFixed(1)} samples/s wall, ${two.cpuMsPerSample.toFixed(1)} CPU-ms per sample (all threads)\n`,
);
const speedup = two.wall / one.wall;
// Load-independent estimate: if each thread had a core, a step lasts as long as its busiest thread's CPU
// time (main thread: its shard + Adam + bookkeeping; worker thread: the rest of the process's CPU time).
const workerMs = two.cpuMsPerSample - two.mainMsPerSample;
const cpuBound = one.cpuMsPerSample / Math.max(two.mainMsPerSample, workerMs);
process.stderr.write(
  `2 workers per sample: main thread ${two.mainMsPerSample.toFixed(1)} CPU-ms, worker thread ${workerMs.toFixed(1)} CPU-ms\n`,
);
process.stderr.write(
  `speedup ${speedup.toFixed(2)}× wall (target ≥ 1.7×); CPU-time estimate ${one.cpuMsPerSample.toFixed(1)} / busiest thread = ${cpuBound.toFixed(2)}×\n` +
    `(${B * steps} samples each, batch ${B}, ${P}×${P} patches; 2-core machine shared with other work: wall figures are noisy)\n`,
);
process.stdout.write(
  `${JSON.stringify({
    samples_per_s_1: Number(one.wall.toFixed(2)),
    samples_per_s_2: Number(two.wall.toFixed(2)),
    speedup: Number(speedup.toFixed(2)),
    cpu_ms_per_sample_1: Number(one.cpuMsPerSample.toFixed(2)),
    cpu_ms_per_sample_2: Number(two.cpuMsPerSample.toFixed(2)),
    main_thread_cpu_ms_per_sample_2: Number(two.mainMsPerSample.toFixed(2)),
    cpu_speedup_estimate: Number(cpuBound.toFixed(2)),
  })}\n`,
);
