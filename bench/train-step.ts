/**
 * Training-step throughput of the default patch classifier (fcn-small, 68 × 68 patches, Adam, binary
 * cross-entropy): the wasm backend with our convolution gradient kernels vs tfjs's cpu backend, both
 * measured in this run. (Stock tfjs-backend-wasm 4.22 cannot train it at all: it has no
 * Conv2DBackpropFilter.) Last line: JSON with samples/s (wall and per CPU-second) and wasm_vs_cpu (CPU time).
 * Run: npx tsx bench/train-step.ts. Noisy when other work shares the machine's 2 cores.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendName, useBackend } from '../pipeline/models/backend.ts';
import {
  archGeometry,
  buildPatchClassifier,
  multiplyAdds,
  SMALL_ARCH,
} from '../pipeline/models/patch-classifier.ts';

/** Samples per wall-clock second and per CPU-second (the latter is robust to other work on the cores). */
async function samplesPerSecond(
  backend: BackendName,
  batch: number,
  steps: number,
): Promise<{ wall: number; cpu: number }> {
  await useBackend(backend);
  const size = archGeometry(SMALL_ARCH).receptiveField;
  const model = buildPatchClassifier(SMALL_ARCH, { seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'binaryCrossentropy' });
  const x = tf.randomUniform([batch, size, size, 3], -2, 2, 'float32', 3);
  const y = tf.randomUniform([batch, 1, 1, 1], 0, 1, 'float32', 4).round();
  await model.trainOnBatch(x, y); // warm-up: kernel set-up, optimizer slots
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  tf.dispose([x, y]);
  model.dispose();
  return { wall: (batch * steps) / seconds, cpu: (batch * steps) / ((c.user + c.system) / 1e6) };
}

const size = archGeometry(SMALL_ARCH).receptiveField;
const gflopPerSample = (3 * 2 * multiplyAdds(SMALL_ARCH, size, size)) / 1e9; // forward + two gradients
const wasm = await samplesPerSecond('wasm', 32, 6);
process.stderr.write(
  `wasm (our conv gradients): ${wasm.wall.toFixed(1)} samples/s wall, ${wasm.cpu.toFixed(1)} per CPU-second (batch 32, ${(wasm.cpu * gflopPerSample).toFixed(1)} GFLOP per CPU-second)\n`,
);
const cpu = await samplesPerSecond('cpu', 2, 1); // a 32-sample step takes minutes on the cpu backend
process.stderr.write(
  `cpu backend: ${cpu.wall.toFixed(3)} samples/s wall, ${cpu.cpu.toFixed(3)} per CPU-second (batch 2)\n`,
);
process.stderr.write(
  '(2-core machine shared with other work: wall figures are noisy; the ratio uses CPU time)\n',
);
process.stdout.write(
  `${JSON.stringify({
    wasm_samples_per_s: Number(wasm.wall.toFixed(1)),
    cpu_samples_per_s: Number(cpu.wall.toFixed(3)),
    wasm_samples_per_cpu_s: Number(wasm.cpu.toFixed(1)),
    cpu_samples_per_cpu_s: Number(cpu.cpu.toFixed(3)),
    wasm_vs_cpu: Number((wasm.cpu / cpu.cpu).toFixed(1)),
  })}\n`,
);
