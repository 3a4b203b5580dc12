/**
 * FCN inference benchmark, all figures measured in this one run on the same slide region and model
 * (the default small patch classifier, random weights: timing only):
 *  1. FCN vs patch-by-patch time for the same output grid (onnxruntime, 1 thread, pixels in memory);
 *  2. our throughput in GFLOP/s (2 × the model's multiply-adds) vs the same architecture in PyTorch CPU
 *     (Debian python3-torch, /usr/bin/python3) at the same input size and thread count, and vs the CPU's
 *     peak measured with an AVX2 FMA loop (a small C program compiled with gcc at bench time);
 *  3. scaling of the real `wsi infer` tile path (read + decode + normalise + ONNX) from 1 to 2 Piscina
 *     workers, and the main thread with a 2-thread session for comparison.
 * Last line: {"fcn_vs_patch", "vs_pytorch", "pct_peak"}. Run: npx tsx bench/infer.ts
 * Numbers are noisy when other work shares the machine's 2 cores.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../pipeline/models/backend.ts';
import { readScale } from '../pipeline/models/fcn-plan.ts';
import { readModelPixels } from '../pipeline/models/fcn-tile.ts';
import { DEFAULT_NORMALISATION, normaliseInto } from '../pipeline/models/normalise.ts';
import { exportOnnx } from '../pipeline/models/onnx-export.ts';
import { createOnnxRunner, type OnnxRunner } from '../pipeline/models/onnx-runner.ts';
import {
  archGeometry,
  buildPatchClassifier,
  multiplyAdds,
  SMALL_ARCH,
} from '../pipeline/models/patch-classifier.ts';
import { createPool } from '../pipeline/pool.ts';
import { openSlide } from '../pipeline/slide/index.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SLIDE = path.resolve(root, '../shared/data/slides/CMU-1-Small-Region.svs');
const MPP = 0.5;
const OUT = 120; // outputs per side of the benchmark region
const PATCH_SAMPLE = 1024; // patches timed one by one (batched 64), extrapolated to the whole grid
const work = mkdtempSync(path.join(tmpdir(), 'wsi-bench-infer-'));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function timeIt(reps: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return (performance.now() - t0) / reps / 1000;
}

const FMA_C = `
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static long iters;
static void *work(void *arg) {
  __m256 a[10]; for (int j = 0; j < 10; j++) a[j] = _mm256_set1_ps(1.0f + j);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long i = 0; i < iters; i++) {
    a[0] = _mm256_fmadd_ps(a[0], m, c); a[1] = _mm256_fmadd_ps(a[1], m, c); a[2] = _mm256_fmadd_ps(a[2], m, c);
    a[3] = _mm256_fmadd_ps(a[3], m, c); a[4] = _mm256_fmadd_ps(a[4], m, c); a[5] = _mm256_fmadd_ps(a[5], m, c);
    a[6] = _mm256_fmadd_ps(a[6], m, c); a[7] = _mm256_fmadd_ps(a[7], m, c); a[8] = _mm256_fmadd_ps(a[8], m, c);
    a[9] = _mm256_fmadd_ps(a[9], m, c);
  }
  __m256 s = a[0]; for (int j = 1; j < 10; j++) s = _mm256_add_ps(s, a[j]);
  float out[8]; _mm256_storeu_ps(out, s); *(float *)arg = out[0];
  return NULL;
}
int main(int argc, char **argv) {
  int threads = atoi(argv[1]); iters = atol(argv[2]);
  pthread_t t[64]; float sink[64];
  struct timespec a, b; clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, work, &sink[i]);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
  printf("%.3f %g\\n", (double)threads * iters * 10 * 8 * 2 / s / 1e9, sink[0]);
  return 0;
}
`;

/** Peak single-precision GFLOP/s on `threads` threads: best of 3 runs of the FMA loop. */
function cpuPeak(threads: number): number | null {
  const src = path.join(work, 'fma.c');
  const bin = path.join(work, 'fma');
  try {
    writeFileSync(src, FMA_C);
    execFileSync('gcc', ['-O3', '-mavx2', '-mfma', '-pthread', src, '-o', bin]);
    let best = 0;
    for (let i = 0; i < 3; i++) {
      const out = execFileSync(bin, [String(threads), '100000000'], { encoding: 'utf8' });
      best = Math.max(best, Number(out.split(' ')[0]));
    }
    return best;
  } catch (err) {
    log(`CPU peak not measured (gcc with AVX2/FMA needed): ${(err as Error).message.split('\n')[0]}`);
    return null;
  }
}

const TORCH_PY = `
import json, sys, time
import torch
spec, size, threads, reps = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.set_num_threads(threads)
layers, c = [], 3
for l in spec["layers"]:
    if l["type"] == "conv":
        layers += [torch.nn.Conv2d(c, l["filters"], l["kernel"], stride=l.get("stride", 1), dilation=l.get("dilation", 1)), torch.nn.ReLU()]
        c = l["filters"]
    elif l["type"] == "maxpool":
        layers.append(torch.nn.MaxPool2d(l["size"], l.get("stride", l["size"])))
    else:
        layers.append(torch.nn.AvgPool2d(l["size"], l.get("stride", l["size"])))
layers += [torch.nn.Conv2d(c, 1, 1), torch.nn.Sigmoid()]
net = torch.nn.Sequential(*layers).eval()
x = torch.rand(1, 3, size, size)
with torch.no_grad():
    net(x)
    t = time.perf_counter()
    for _ in range(reps):
        net(x)
    print((time.perf_counter() - t) / reps)
`;

/** Seconds per forward pass in PyTorch (conv + ReLU; batch norm folded away as in our export). */
function torchSeconds(size: number, threads: number): number | null {
  const script = path.join(work, 'torch_bench.py');
  writeFileSync(script, TORCH_PY);
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [script, JSON.stringify(SMALL_ARCH), String(size), String(threads), '3'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return Number(out.trim());
  } catch (err) {
    log(`PyTorch not measured (install Debian python3-torch): ${(err as Error).message.split('\n')[0]}`);
    return null;
  }
}

async function main(): Promise<void> {
  await useBackend('wasm');
  const g = archGeometry(SMALL_ARCH);
  const size = g.receptiveField + (OUT - 1) * g.stride; // 1020 px: one tile, 120 × 120 outputs
  const model = buildPatchClassifier(SMALL_ARCH, { seed: 5 });
  const onnx = exportOnnx(model);
  const macs = multiplyAdds(SMALL_ARCH, size, size);
  const gflop = (2 * macs) / 1e9;
  log(
    `model ${SMALL_ARCH.name}: receptive field ${g.receptiveField}, stride ${g.stride}; ${size}² input → ${OUT}² outputs, ${gflop.toFixed(1)} GFLOP`,
  );

  // The region: read once at 0.5 µm/px (snaps to the slide's 0.499, plain crop), normalised.
  const slide = await openSlide(SLIDE);
  const scale = readScale(slide.levels, slide.mpp!.x, MPP);
  const img = await readModelPixels(slide, scale, { x: 600, y: 900, width: size, height: size });
  await slide.close();
  const input = new Float32Array(size * size * 3);
  normaliseInto(img.data, img.channels, DEFAULT_NORMALISATION, input);

  // 1. FCN vs patch-by-patch, one onnxruntime thread.
  const one = await createOnnxRunner(onnx, { threads: 1, gpu: false });
  let fcnMap: Float32Array = new Float32Array(0);
  const tFcn = await timeIt(3, async () => {
    fcnMap = (await one.run(input, [1, size, size, 3])).data;
  });
  const rf = g.receptiveField;
  const batch = 64;
  const patchIdx = Array.from({ length: PATCH_SAMPLE }, (_, i) => (i * 7919) % (OUT * OUT));
  const patchInput = new Float32Array(batch * rf * rf * 3);
  let maxDiff = 0;
  const scorePatchSample = async () => {
    for (let b = 0; b < PATCH_SAMPLE; b += batch) {
      for (let i = 0; i < batch; i++) {
        const p = patchIdx[b + i];
        const r = Math.floor(p / OUT) * g.stride;
        const c = (p % OUT) * g.stride;
        for (let y = 0; y < rf; y++) {
          const src = ((r + y) * size + c) * 3;
          patchInput.set(input.subarray(src, src + rf * 3), (i * rf + y) * rf * 3);
        }
      }
      const out = await one.run(patchInput, [batch, rf, rf, 3]);
      for (let i = 0; i < batch; i++)
        maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - fcnMap[patchIdx[b + i]]));
    }
  };
  const tSample = await timeIt(1, scorePatchSample);
  const tPatch = (tSample / PATCH_SAMPLE) * OUT * OUT;
  const fcnVsPatch = tPatch / tFcn;
  log(
    `FCN ${tFcn.toFixed(3)} s vs patch-by-patch ${tPatch.toFixed(2)} s (from ${PATCH_SAMPLE} patches, batch ${batch}) for ${OUT}² outputs: ${fcnVsPatch.toFixed(1)}× (max |FCN − patch| ${maxDiff.toExponential(1)})`,
  );

  // 2. Throughput: ours with 1 and 2 threads (one 2-thread session; two 1-thread sessions in parallel).
  const ours1 = gflop / tFcn;
  const two: OnnxRunner = await createOnnxRunner(onnx, { threads: 2, gpu: false });
  const tTwoThreads = await timeIt(3, () => two.run(input, [1, size, size, 3]));
  const other = await createOnnxRunner(onnx, { threads: 1, gpu: false });
  const tTwoSessions = await timeIt(2, () =>
    Promise.all([one.run(input, [1, size, size, 3]), other.run(input, [1, size, size, 3])]),
  );
  const ours2 = Math.max(gflop / tTwoThreads, (2 * gflop) / tTwoSessions);
  log(
    `onnxruntime: ${ours1.toFixed(1)} GFLOP/s on 1 thread; ${(gflop / tTwoThreads).toFixed(1)} with a 2-thread session, ${((2 * gflop) / tTwoSessions).toFixed(1)} with two 1-thread sessions`,
  );
  await Promise.all([one.close(), two.close(), other.close()]);

  const x = tf.tensor4d(input, [1, size, size, 3]);
  const tTf = await timeIt(1, async () => {
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  });
  x.dispose();
  log(`tfjs ${tf.getBackend()}: ${(gflop / tTf).toFixed(1)} GFLOP/s (1 thread)`);

  const torch1 = torchSeconds(size, 1);
  const torch2 = torchSeconds(size, 2);
  const pt1 = torch1 ? gflop / torch1 : null;
  const pt2 = torch2 ? gflop / torch2 : null;
  if (pt1 && pt2) log(`PyTorch CPU: ${pt1.toFixed(1)} GFLOP/s (1 thread), ${pt2.toFixed(1)} (2 threads)`);
  const peak1 = cpuPeak(1);
  const peak2 = cpuPeak(2);
  if (peak1 && peak2)
    log(`CPU peak (AVX2 FMA loop): ${peak1.toFixed(0)} GFLOP/s (1 thread), ${peak2.toFixed(0)} (2 threads)`);

  // 3. The real tile path over the whole slide: Piscina workers vs the main thread.
  const onnxPath = path.join(work, 'model.onnx');
  writeFileSync(onnxPath, onnx);
  const tileSize = 1020;
  const tiles: { x: number; y: number }[] = [];
  for (let y = 0; y + tileSize <= 2967; y += tileSize - (rf - g.stride))
    for (let x0 = 0; x0 + tileSize <= 2220; x0 += tileSize - (rf - g.stride)) tiles.push({ x: x0, y });
  const task = (t: { x: number; y: number }) => ({
    slidePath: SLIDE,
    onnxPath,
    threads: 1,
    normalisation: DEFAULT_NORMALISATION,
    scale,
    tile: { row0: 0, col0: 0, rows: OUT, cols: OUT, x: t.x, y: t.y, width: tileSize, height: tileSize },
  });
  const rates: Record<string, number> = {};
  for (const workers of [1, 2]) {
    const pool = createPool({ workers });
    await Promise.all(Array.from({ length: workers }, () => pool.run('infer-tile', task(tiles[0])))); // start-up
    const t0 = performance.now();
    await Promise.all(tiles.map((t) => pool.run('infer-tile', task(t))));
    rates[`pool${workers}`] = tiles.length / ((performance.now() - t0) / 1000);
    await pool.close();
  }
  const mainRunner = await createOnnxRunner(onnx, { threads: 2, gpu: false });
  const mainSlide = await openSlide(SLIDE);
  const tMain = await timeIt(1, async () => {
    for (const t of tiles) {
      const im = await readModelPixels(mainSlide, scale, { ...t, width: tileSize, height: tileSize });
      const buf = new Float32Array(tileSize * tileSize * 3);
      normaliseInto(im.data, im.channels, DEFAULT_NORMALISATION, buf);
      await mainRunner.run(buf, [1, tileSize, tileSize, 3]);
    }
  });
  rates.main2 = tiles.length / tMain;
  await mainSlide.close();
  await mainRunner.close();
  log(
    `slide tiles (${tileSize}² incl. read + decode): 1 worker ${rates.pool1.toFixed(2)}/s, 2 workers ${rates.pool2.toFixed(2)}/s (${(rates.pool2 / rates.pool1).toFixed(2)}×), main thread 2-thread session ${rates.main2.toFixed(2)}/s`,
  );
  model.dispose();
  rmSync(work, { recursive: true, force: true });

  const round = (v: number | null, d = 2) => (v === null ? null : Number(v.toFixed(d)));
  log('(2-core machine shared with other work: figures are noisy; ratios are measured in this same run)');
  log(
    `details ${JSON.stringify({
      gflops_onnx_1t: round(ours1, 1),
      gflops_onnx_2t: round(ours2, 1),
      gflops_pytorch_1t: round(pt1, 1),
      gflops_pytorch_2t: round(pt2, 1),
      gflops_tfjs_wasm_1t: round(gflop / tTf, 1),
      peak_gflops_1t: round(peak1, 0),
      peak_gflops_2t: round(peak2, 0),
      tiles_per_s_1_worker: round(rates.pool1),
      tiles_per_s_2_workers: round(rates.pool2),
      tiles_per_s_main_2_threads: round(rates.main2),
    })}`,
  );
  process.stdout.write(
    `${JSON.stringify({
      fcn_vs_patch: round(fcnVsPatch),
      vs_pytorch: pt2 ? round(ours2 / pt2) : null,
      pct_peak: peak2 ? round((100 * ours2) / peak2, 1) : null,
    })}\n`,
  );
}

await main();
