/**
 * FCN inference benchmark, all figures measured in this one run on the same slide region and model
 * (the default small patch classifier, random weights: timing only):
 *  1. FCN vs patch-by-patch time for the same output grid (onnxruntime, 1 thread, pixels in memory);
 *  2. our throughput in GFLOP/s (2 × the model's multiply-adds) vs the same architecture in PyTorch CPU
 *     (Debian python3-torch, /usr/bin/python3) at the same input size and thread count, and vs the CPU's
 *     peak measured with an AVX2 FMA loop (a small C program compiled with gcc at bench time);
 *  3. scaling of the real `wsi infer` tile path (read + decode + normalise + ONNX) from 1 to 2 Piscina
 *     workers, and the main thread with a 2-thread session for comparison.
 * Last line: {"fcn_vs_patch", "vs_pytorch", "pct_peak"}, all at one thread and from CPU time (FLOPs per
 * CPU-second), which equals wall-clock throughput on an idle machine and stays meaningful when other work
 * shares the 2 cores; wall-clock figures, 2-thread figures and worker scaling are printed on stderr.
 * The ONNX model is exported exactly as `wsi infer` exports it (planar NCHW input, see onnx-export.ts).
 * Run: npx tsx bench/infer.ts [--quick]   (--quick: only the 1-thread GFLOP/s and % of peak, ~1 min)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { useBackend } from '../pipeline/models/backend.ts';
import { readScale } from '../pipeline/models/fcn-plan.ts';
import { normalisePlanarInto, readModelPixels } from '../pipeline/models/fcn-tile.ts';
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
const QUICK = process.argv.includes('--quick');
const FCN_REPS = 5; // timed FCN runs (mean), after one warm-up
const work = mkdtempSync(path.join(tmpdir(), 'wsi-bench-infer-'));

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface Timing {
  /** Wall-clock seconds per repetition. */
  wall: number;
  /** CPU seconds (all threads of this process) per repetition: robust to other work sharing the cores. */
  cpu: number;
}

/** Mean wall and CPU seconds per repetition after one warm-up; `cpuBest` is the fastest repetition. */
async function timeIt(reps: number, fn: () => Promise<unknown>): Promise<Timing & { cpuBest: number }> {
  await fn(); // warm-up
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let cpuBest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < reps; i++) {
    const ci = process.cpuUsage();
    await fn();
    const c = process.cpuUsage(ci);
    cpuBest = Math.min(cpuBest, (c.user + c.system) / 1e6);
  }
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / reps / 1000, cpu: (c.user + c.system) / 1e6 / reps, cpuBest };
}

// Ten independent FMA chains per thread (enough to cover FMA latency × ports); 512-bit vectors when built
// with -mavx512f (onnxruntime's MLAS uses AVX-512 kernels on CPUs that have it), else 256-bit AVX2.
const FMA_C = `
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef __AVX512F__
typedef __m512 vec; enum { LANES = 16 };
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define STORE _mm512_storeu_ps
#else
typedef __m256 vec; enum { LANES = 8 };
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
#define STORE _mm256_storeu_ps
#endif
static long iters;
static void *work(void *arg) {
  vec a0 = SET1(1), a1 = SET1(2), a2 = SET1(3), a3 = SET1(4), a4 = SET1(5), a5 = SET1(6), a6 = SET1(7), a7 = SET1(8), a8 = SET1(9), a9 = SET1(10);
  const vec m = SET1(0.999999f), c = SET1(1e-7f);
  for (long i = 0; i < iters; i++) {
    a0 = FMA(a0, m, c); a1 = FMA(a1, m, c); a2 = FMA(a2, m, c); a3 = FMA(a3, m, c); a4 = FMA(a4, m, c);
    a5 = FMA(a5, m, c); a6 = FMA(a6, m, c); a7 = FMA(a7, m, c); a8 = FMA(a8, m, c); a9 = FMA(a9, m, c);
  }
  vec s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(ADD(a6, a7), ADD(a8, a9))));
  float out[LANES]; STORE(out, s); *(float *)arg = out[0];
  return NULL;
}
int main(int argc, char **argv) {
  int threads = atoi(argv[1]); iters = atol(argv[2]);
  pthread_t t[64]; float sink[64];
  struct timespec a, b, ca, cb; clock_gettime(CLOCK_MONOTONIC, &a); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, work, &sink[i]);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b); clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
  double s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) * 1e-9;
  double cs = (cb.tv_sec - ca.tv_sec) + (cb.tv_nsec - ca.tv_nsec) * 1e-9;
  double flop = (double)threads * iters * 10 * LANES * 2;
  printf("%.3f %.3f %g\\n", flop / s / 1e9, flop / cs / 1e9 * threads, sink[0]);
  return 0;
}
`;

/**
 * Peak single-precision GFLOP/s on `threads` threads, best of 3 runs of the FMA loop: by wall clock, and
 * per CPU-second × threads (what the cores deliver while they run it, whatever else shares them).
 */
function cpuPeak(threads: number, isa: 'avx2' | 'avx512'): { wall: number; cpu: number } | null {
  const src = path.join(work, 'fma.c');
  const bin = path.join(work, `fma-${isa}`);
  try {
    writeFileSync(src, FMA_C);
    const flags = isa === 'avx512' ? ['-mavx512f', '-mfma'] : ['-mavx2', '-mfma'];
    execFileSync('gcc', ['-O3', ...flags, '-pthread', src, '-o', bin]);
    const best = { wall: 0, cpu: 0 };
    for (let i = 0; i < 3; i++) {
      const [wall, cpu] = execFileSync(bin, [String(threads), '100000000'], { encoding: 'utf8' })
        .split(' ')
        .map(Number);
      best.wall = Math.max(best.wall, wall);
      best.cpu = Math.max(best.cpu, cpu);
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
    t, c = time.perf_counter(), time.process_time()
    for _ in range(reps):
        net(x)
    print((time.perf_counter() - t) / reps, (time.process_time() - c) / reps)
`;

/** Seconds per forward pass in PyTorch (conv + ReLU; batch norm folded away as in our export). */
function torchSeconds(size: number, threads: number): Timing | null {
  const script = path.join(work, 'torch_bench.py');
  writeFileSync(script, TORCH_PY);
  try {
    const out = execFileSync(
      '/usr/bin/python3',
      [script, JSON.stringify(SMALL_ARCH), String(size), String(threads), '3'],
      {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        // OpenMP threads sleep instead of spinning between layers, so CPU time counts work only.
        env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' },
      },
    );
    const [wall, cpu] = out.trim().split(' ').map(Number);
    return { wall, cpu };
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
  const onnx = exportOnnx(model, { inputLayout: 'nchw' }); // as wsi infer exports it
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
  const input = new Float32Array(size * size * 3); // NHWC, for tfjs
  normaliseInto(img.data, img.channels, DEFAULT_NORMALISATION, input);
  const planar = new Float32Array(size * size * 3); // NCHW, for the ONNX model
  normalisePlanarInto(img.data, img.channels, DEFAULT_NORMALISATION, planar);
  const shape1: [number, number, number, number] = [1, 3, size, size];

  // 1. FCN vs patch-by-patch, one onnxruntime thread.
  const one = await createOnnxRunner(onnx, { threads: 1, gpu: false });
  let fcnMap: Float32Array = new Float32Array(0);
  const tFcn = await timeIt(FCN_REPS, async () => {
    fcnMap = (await one.run(planar, shape1)).data;
  });
  const ours1 = { wall: gflop / tFcn.wall, cpu: gflop / tFcn.cpu };
  log(
    `onnxruntime 1 thread: ${ours1.wall.toFixed(1)} GFLOP/s wall, ${ours1.cpu.toFixed(1)} per CPU-second (mean of ${FCN_REPS}; fastest run ${(gflop / tFcn.cpuBest).toFixed(1)})`,
  );
  const hasAvx512 = /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  const peaks: Record<string, { wall: number; cpu: number } | null> = {};
  for (const isa of hasAvx512 ? (['avx2', 'avx512'] as const) : (['avx2'] as const)) {
    for (const threads of QUICK ? [1] : [1, 2]) peaks[`${isa}_${threads}t`] = cpuPeak(threads, isa);
    const p1 = peaks[`${isa}_1t`];
    const p2 = peaks[`${isa}_2t`];
    if (p1)
      log(
        `CPU peak (${isa} FMA loop) 1 thread: ${p1.wall.toFixed(0)} GFLOP/s wall, ${p1.cpu.toFixed(0)} per CPU-second${p2 ? `; 2 threads: ${p2.wall.toFixed(0)} wall, ${p2.cpu.toFixed(0)} per CPU-second × 2` : ''}`,
      );
  }
  // The ceiling is the widest FMA the CPU has, since the inference runtime uses it.
  const peak1 = peaks[hasAvx512 ? 'avx512_1t' : 'avx2_1t'];
  const round = (v: number | null | undefined, d = 2) =>
    v === null || v === undefined ? null : Number(v.toFixed(d));
  const pctPeak = peak1 ? round((100 * ours1.cpu) / peak1.cpu, 1) : null;
  if (QUICK) {
    await one.close();
    model.dispose();
    rmSync(work, { recursive: true, force: true });
    log('(--quick: GFLOP/s and % of peak only; CPU time at 1 thread, the machine may be shared)');
    process.stdout.write(`${JSON.stringify({ fcn_vs_patch: null, vs_pytorch: null, pct_peak: pctPeak })}\n`);
    return;
  }
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
        for (let ch = 0; ch < 3; ch++) {
          for (let y = 0; y < rf; y++) {
            const src = (ch * size + r + y) * size + c;
            patchInput.set(planar.subarray(src, src + rf), ((i * 3 + ch) * rf + y) * rf);
          }
        }
      }
      const out = await one.run(patchInput, [batch, 3, rf, rf]);
      for (let i = 0; i < batch; i++)
        maxDiff = Math.max(maxDiff, Math.abs(out.data[i] - fcnMap[patchIdx[b + i]]));
    }
  };
  const tSample = await timeIt(1, scorePatchSample);
  const perGrid = (OUT * OUT) / PATCH_SAMPLE;
  const fcnVsPatch = (tSample.cpu * perGrid) / tFcn.cpu;
  log(
    `FCN ${tFcn.wall.toFixed(3)} s vs patch-by-patch ${(tSample.wall * perGrid).toFixed(2)} s wall (from ${PATCH_SAMPLE} patches, batch ${batch}) for ${OUT}² outputs: ${((tSample.wall * perGrid) / tFcn.wall).toFixed(1)}× wall, ${fcnVsPatch.toFixed(1)}× CPU time (max |FCN − patch| ${maxDiff.toExponential(1)})`,
  );

  // 2. Throughput. "cpu" rates are GFLOP per CPU-second × threads: on an idle machine they equal wall-clock
  // GFLOP/s; on a shared one they still measure what the code makes of the cores it gets.
  const two: OnnxRunner = await createOnnxRunner(onnx, { threads: 2, gpu: false });
  const tTwoThreads = await timeIt(3, () => two.run(planar, shape1));
  const other = await createOnnxRunner(onnx, { threads: 1, gpu: false });
  const tTwoSessions = await timeIt(2, () =>
    Promise.all([one.run(planar, shape1), other.run(planar, shape1)]),
  );
  const ours2wall = Math.max(gflop / tTwoThreads.wall, (2 * gflop) / tTwoSessions.wall);
  log(
    `onnxruntime 2 threads (wall): ${(gflop / tTwoThreads.wall).toFixed(1)} GFLOP/s with a 2-thread session, ${((2 * gflop) / tTwoSessions.wall).toFixed(1)} with two 1-thread sessions`,
  );
  await Promise.all([one.close(), two.close(), other.close()]);

  const x = tf.tensor4d(input, [1, size, size, 3]);
  const tTf = await timeIt(1, async () => {
    const y = model.predict(x) as tf.Tensor;
    await y.data();
    y.dispose();
  });
  x.dispose();
  log(
    `tfjs ${tf.getBackend()} 1 thread: ${(gflop / tTf.wall).toFixed(1)} GFLOP/s wall, ${(gflop / tTf.cpu).toFixed(1)} per CPU-second`,
  );

  const torch1 = torchSeconds(size, 1);
  const torch2 = torchSeconds(size, 2);
  const pt1 = torch1 ? { wall: gflop / torch1.wall, cpu: gflop / torch1.cpu } : null;
  const pt2wall = torch2 ? gflop / torch2.wall : null;
  if (pt1 && pt2wall)
    log(
      `PyTorch CPU 1 thread: ${pt1.wall.toFixed(1)} GFLOP/s wall, ${pt1.cpu.toFixed(1)} per CPU-second; 2 threads: ${pt2wall.toFixed(1)} wall`,
    );

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
  const cpuPerTile: Record<string, number> = {};
  for (const workers of [1, 2]) {
    const pool = createPool({ workers });
    await Promise.all(Array.from({ length: workers }, () => pool.run('infer-tile', task(tiles[0])))); // start-up
    const c0 = process.cpuUsage(); // workers are threads of this process: their CPU time counts here
    const t0 = performance.now();
    await Promise.all(tiles.map((t) => pool.run('infer-tile', task(t))));
    rates[`pool${workers}`] = tiles.length / ((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    cpuPerTile[`pool${workers}`] = (c.user + c.system) / 1e6 / tiles.length;
    await pool.close();
  }
  const mainRunner = await createOnnxRunner(onnx, { threads: 2, gpu: false });
  const mainSlide = await openSlide(SLIDE);
  const tMain = await timeIt(1, async () => {
    for (const t of tiles) {
      const im = await readModelPixels(mainSlide, scale, { ...t, width: tileSize, height: tileSize });
      const buf = new Float32Array(tileSize * tileSize * 3);
      normalisePlanarInto(im.data, im.channels, DEFAULT_NORMALISATION, buf);
      await mainRunner.run(buf, [1, 3, tileSize, tileSize]);
    }
  });
  rates.main2 = tiles.length / tMain.wall;
  cpuPerTile.main2 = tMain.cpu / tiles.length;
  await mainSlide.close();
  await mainRunner.close();
  log(
    `slide tiles (${tileSize}² incl. read + decode): 1 worker ${rates.pool1.toFixed(2)}/s, 2 workers ${rates.pool2.toFixed(2)}/s (${(rates.pool2 / rates.pool1).toFixed(2)}×), main thread 2-thread session ${rates.main2.toFixed(2)}/s`,
  );
  log(
    `CPU-seconds per tile: 1 worker ${cpuPerTile.pool1.toFixed(3)}, 2 workers ${cpuPerTile.pool2.toFixed(3)}, main thread 2-thread session ${cpuPerTile.main2.toFixed(3)} (equal costs mean 2 idle cores would give 2×)`,
  );
  model.dispose();
  rmSync(work, { recursive: true, force: true });

  log(
    '(2-core machine shared with other work: wall-clock figures are noisy; the JSON ratios use CPU time, 1 thread)',
  );
  log(
    `details ${JSON.stringify({
      gflops_onnx_1t_wall: round(ours1.wall, 1),
      gflops_onnx_1t_cpu: round(ours1.cpu, 1),
      gflops_onnx_1t_cpu_fastest_run: round(gflop / tFcn.cpuBest, 1),
      gflops_onnx_2t_wall: round(ours2wall, 1),
      gflops_pytorch_1t_wall: round(pt1?.wall, 1),
      gflops_pytorch_1t_cpu: round(pt1?.cpu, 1),
      gflops_pytorch_2t_wall: round(pt2wall, 1),
      gflops_tfjs_wasm_1t_wall: round(gflop / tTf.wall, 1),
      peak_avx2_1t_cpu: round(peaks.avx2_1t?.cpu, 0),
      peak_avx512_1t_cpu: round(peaks.avx512_1t?.cpu, 0),
      peak_1t_wall: round(peak1?.wall, 0),
      peak_2t_cpu: round(peaks[hasAvx512 ? 'avx512_2t' : 'avx2_2t']?.cpu, 0),
      tiles_per_s_1_worker: round(rates.pool1),
      tiles_per_s_2_workers: round(rates.pool2),
      tiles_per_s_main_2_threads: round(rates.main2),
      cpu_s_per_tile_1_worker: round(cpuPerTile.pool1, 3),
      cpu_s_per_tile_2_workers: round(cpuPerTile.pool2, 3),
      cpu_s_per_tile_main: round(cpuPerTile.main2, 3),
    })}`,
  );
  process.stdout.write(
    `${JSON.stringify({
      fcn_vs_patch: round(fcnVsPatch),
      vs_pytorch: pt1 ? round(ours1.cpu / pt1.cpu) : null,
      pct_peak: pctPeak,
    })}\n`,
  );
}

await main();
