/**
 * Random 256×256 level-0 region reads: our reader vs OpenSlide's read_region, measured in the same run.
 *
 *   npx tsx bench/read.ts [--regions 3000] [--size 40000] [--dir out/bench] [--workers 2]
 *
 * Slides: CMU-1-Small-Region.svs and a synthetic H&E-like JPEG pyramid of --size² px (generated into
 * --dir on first use by fixtures/synth-pyramid.ts, then reused). Both readers get the same seeded
 * coordinates, a freshly opened slide (cold caches; opening and one warm-up read are not timed) and one thread:
 * OpenSlide in /usr/bin/python3, ours in a child process with UV_THREADPOOL_SIZE=1 and
 * sharp.concurrency(1), reading one region after another, twice: a new buffer per region (as
 * OpenSlide returns a new image; this is vs_openslide) and into one reused buffer. Then the same reads
 * through the worker pool (pipeline/pool.ts + workers/read-region.ts, 32 regions per task, each batch
 * buffer transferred to a worker and back, never reallocated); pool_speedup compares it with the
 * reused-buffer run, so both sides follow the same buffer discipline and the ratio measures the pool,
 * not the allocator. (A new 196 KB buffer per region costs V8 a full GC per ~64 MB of external memory,
 * whose marking the single-threaded run gets for free on the idle second core.) The pool's workers
 * split the 256 MiB tile cache between them (pipeline/pool-share.ts). 3000 regions by default: with
 * 1000 the cold fill of the cache is a third of the work and the run lasts about one second.
 *
 * Peak RSS is the new-buffer run's; rss_growth_mb is what reading added after opening the slide,
 * against the default decoded-tile cache (256 MiB) as its bound.
 *
 * Last line: {"vs_openslide": <ours/OpenSlide, single thread, the lower of the two slides>,
 *             "pool_speedup": <pool/single on the large slide>, "peak_rss_mb": <n>, ...details}
 * DICOM (issue 14): CMU-1-Small-Region.svs made into a DICOM series by Orthanc's dicomizer (level 0
 * = the source's own JPEG tiles, so both readers decode the same bytes) and read at the same points
 * by the same single-thread child: dicom_vs_tiff = DICOM rate / TIFF rate (target ≥ 0.9), with the
 * CPU-time ratio beside it. Then the same series uploaded to a local Orthanc and read through
 * DICOMweb (WADO-RS frames, in-process, cold cache): dicomweb_regions_per_s.
 * `--only-dicom` runs just this part (and prints only its keys on the last line).
 *
 * Numbers are noisy when other work shares the machine.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createRng } from '../pipeline/util/rng.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const REGION = 256;

interface Coords {
  slide: string;
  points: [number, number][];
}

interface ReadResult {
  /** Regions per wall-clock second. */
  rate: number;
  seconds: number;
  /** Regions per CPU second of the whole process (all its threads): steadier when the machine is shared. */
  cpuRate?: number;
  peakRssMb?: number;
  /** Peak RSS minus RSS after opening the slide: what reading added. */
  rssGrowthMb?: number;
  rssBeforeMb?: number;
  cacheMb?: number;
}

const DEFAULT_CACHE_MB = 256;

const OPENSLIDE_SCRIPT = `
import json, sys, time, openslide
spec = json.load(open(sys.argv[1]))
s = openslide.OpenSlide(spec["slide"])
size = (${REGION}, ${REGION})
s.read_region((0, 0), 0, size)  # warm-up, as for ours
t0 = time.perf_counter()
c0 = time.process_time()
for x, y in spec["points"]:
    s.read_region((x, y), 0, size)
dt = time.perf_counter() - t0
dc = time.process_time() - c0
n = len(spec["points"])
print(json.dumps({"rate": n / dt, "seconds": dt, "cpuRate": n / dc}))
`;

function seededPoints(width: number, height: number, n: number, seed: number): [number, number][] {
  const rnd = createRng(seed).next;
  return Array.from({ length: n }, () => [
    Math.floor(rnd() * (width - REGION)),
    Math.floor(rnd() * (height - REGION)),
  ]);
}

/** One cold pass of our reader over the points: a freshly opened slide, one untimed warm-up read. */
async function timedPass(spec: Coords, reuseBuffer: boolean): Promise<ReadResult & { checksum: number }> {
  const { openSlide } = await import('../pipeline/slide/index.ts');
  const slide = await openSlide(spec.slide);
  // Warm-up (not timed): loads the decoder and compiles the hot paths, as OpenSlide's C code needs no such step.
  await slide.readRegion({ x: 0, y: 0, width: REGION, height: REGION, level: 0 });
  const into = reuseBuffer ? new Uint8Array(REGION * REGION * 3) : undefined;
  const rssBefore = process.memoryUsage().rss;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let checksum = 0;
  for (const [x, y] of spec.points) {
    const img = await slide.readRegion({ x, y, width: REGION, height: REGION, level: 0 }, { into });
    checksum += img.data[img.data.length >> 1];
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  await slide.close();
  return {
    rate: spec.points.length / seconds,
    seconds,
    cpuRate: spec.points.length / ((cpu.user + cpu.system) / 1e6),
    rssBeforeMb: rssBefore / 2 ** 20,
    checksum,
  };
}

/**
 * Child mode: our reader on one thread, in a process of its own: either returning a new buffer per
 * region (the plain API, compared with OpenSlide, which also returns a new image) or filling one
 * reused buffer (`into`: the buffer discipline of the pool run below, which recycles its batch buffers).
 */
async function runOursChild(specFile: string, reuseBuffer: boolean): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const spec = JSON.parse(readFileSync(specFile, 'utf8')) as Coords;
  const sharp = (await import('sharp')).default;
  sharp.concurrency(1);
  const pass = await timedPass(spec, reuseBuffer);
  const peakRssMb = process.resourceUsage().maxRSS / 1024;
  const out: ReadResult = {
    ...pass,
    peakRssMb,
    rssGrowthMb: peakRssMb - pass.rssBeforeMb!,
    cacheMb: DEFAULT_CACHE_MB,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function runOpenSlide(specFile: string): ReadResult {
  const out = execFileSync('/usr/bin/python3', ['-c', OPENSLIDE_SCRIPT, specFile], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as ReadResult;
}

function runOurs(specFile: string, reuseBuffer: boolean): ReadResult {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--child',
      specFile,
      ...(reuseBuffer ? ['--reuse'] : []),
    ],
    {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
    },
  );
  if (r.status !== 0) throw new Error(`reader child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ReadResult;
}

async function runPool(spec: Coords, workers: number): Promise<ReadResult> {
  const { createPool } = await import('../pipeline/pool.ts');
  const pool = createPool({ workers, maxQueue: workers * 4 });
  try {
    // Open the slide in every worker first (not timed), at a spot away from the measured ones.
    await Promise.all(
      Array.from({ length: workers * 2 }, () =>
        pool.run('read-region', {
          slidePath: spec.slide,
          regions: [{ x: 0, y: 0, width: 8, height: 8, level: 0 }],
        }),
      ),
    );
    const BATCH = 32;
    const batchBytes = BATCH * REGION * REGION * 3;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    // A few batches per worker in flight: enough to keep both busy, few enough to stay off the queue limit.
    // Each lane recycles one batch buffer: transferred to the worker, filled, transferred back.
    let next = 0;
    const lane = async () => {
      let buffer: Uint8Array = new Uint8Array(batchBytes);
      while (next < spec.points.length) {
        const regions = spec.points
          .slice(next, next + BATCH)
          .map(([x, y]) => ({ x, y, width: REGION, height: REGION, level: 0 }));
        next += BATCH;
        const filled = await pool.run<Uint8Array>(
          'read-region',
          { slidePath: spec.slide, regions, into: buffer },
          [buffer.buffer as ArrayBuffer],
        );
        // The last, shorter batch comes back as a view: start a full-size buffer again.
        buffer = filled.byteLength === batchBytes ? filled : new Uint8Array(batchBytes);
      }
    };
    await Promise.all(Array.from({ length: workers * 2 }, lane));
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    return {
      rate: spec.points.length / seconds,
      seconds,
      cpuRate: spec.points.length / ((cpu.user + cpu.system) / 1e6),
    };
  } finally {
    await pool.close();
  }
}

/** DICOM series of CMU vs the .svs (same child, same points), and DICOMweb reads from a local Orthanc. */
async function dicomBench(dir: string, n: number): Promise<Record<string, number>> {
  const { mkdirSync, readdirSync, rmSync } = await import('node:fs');
  const svs = path.resolve(repoRoot, '../shared/data/slides/CMU-1-Small-Region.svs');
  const series = path.join(dir, 'cmu-dicom');
  rmSync(series, { recursive: true, force: true });
  mkdirSync(series, { recursive: true });
  execFileSync(
    'OrthancWSIDicomizer',
    [
      '--openslide',
      '/usr/lib/x86_64-linux-gnu/libopenslide.so.0',
      '--folder',
      series,
      '--pyramid',
      '1',
      '--levels',
      '3',
      svs,
    ],
    { stdio: 'ignore' },
  );
  const points = seededPoints(2220, 2967, n, 4321);
  const tiffSpec = path.join(dir, 'read-bench-dicom-tiff.json');
  const dicomSpec = path.join(dir, 'read-bench-dicom.json');
  writeFileSync(tiffSpec, JSON.stringify({ slide: svs, points }));
  writeFileSync(dicomSpec, JSON.stringify({ slide: series, points }));
  const best = (a: ReadResult | undefined, b: ReadResult) => (a && a.rate >= b.rate ? a : b);
  let tiff: ReadResult | undefined;
  let dicom: ReadResult | undefined;
  for (let round = 0; round < 3; round++) {
    tiff = best(tiff, runOurs(tiffSpec, false));
    dicom = best(dicom, runOurs(dicomSpec, false));
  }
  if (!tiff || !dicom) throw new Error('no runs');
  const { startOrthanc } = await import('../tests/helpers/orthanc.ts');
  const orthanc = await startOrthanc();
  let web: ReadResult & { checksum: number };
  try {
    const [url] = await orthanc.upload(readdirSync(series).map((f) => path.join(series, f)));
    web = await timedPass({ slide: url, points: points.slice(0, Math.min(n, 1000)) }, false);
  } finally {
    await orthanc.stop();
  }
  process.stdout.write(
    `DICOM series of CMU-1-Small-Region (dicomizer; level 0 = the .svs's own JPEG tiles): ${n} random ${REGION}² level-0 reads, 1 thread\n` +
      `  TIFF reader on the .svs:  ${tiff.rate.toFixed(0)} regions/s (${tiff.cpuRate!.toFixed(0)} per CPU-second)\n` +
      `  DICOM reader on the series: ${dicom.rate.toFixed(0)} regions/s (${dicom.cpuRate!.toFixed(0)} per CPU-second) = ${(dicom.rate / tiff.rate).toFixed(2)}× the TIFF reader (${(dicom.cpuRate! / tiff.cpuRate!).toFixed(2)}× by CPU time)\n` +
      `  DICOMweb from a local Orthanc (WADO-RS frames, ≤ 6 requests in flight): ${web.rate.toFixed(0)} regions/s\n`,
  );
  return {
    dicom_vs_tiff: Number((dicom.rate / tiff.rate).toFixed(3)),
    dicom_vs_tiff_cpu: Number((dicom.cpuRate! / tiff.cpuRate!).toFixed(3)),
    dicom_regions_per_s: Math.round(dicom.rate),
    dicom_tiff_regions_per_s: Math.round(tiff.rate),
    dicomweb_regions_per_s: Math.round(web.rate),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      regions: { type: 'string', default: '3000' },
      size: { type: 'string', default: '40000' },
      dir: { type: 'string', default: path.join(repoRoot, 'out/bench') },
      workers: { type: 'string', default: '2' },
      child: { type: 'string' },
      reuse: { type: 'boolean', default: false },
      'only-dicom': { type: 'boolean', default: false },
    },
  });
  if (values.child) return runOursChild(values.child, values.reuse!);
  if (values['only-dicom']) {
    process.stdout.write(`${JSON.stringify(await dicomBench(values.dir!, Number(values.regions)))}\n`);
    return;
  }
  const n = Number(values.regions);
  const size = Number(values.size);
  const workers = Number(values.workers);
  const synth = path.join(values.dir!, `synth-${size}.tif`);
  const { ensureSyntheticPyramid } = await import('../fixtures/synth-pyramid.ts');
  const t0 = performance.now();
  const { reused } = await ensureSyntheticPyramid(synth, { size });
  process.stdout.write(
    `synthetic ${size}×${size} JPEG pyramid: ${synth} (${reused ? 'reused' : `written in ${((performance.now() - t0) / 1000).toFixed(0)} s`})\n`,
  );
  const slides = [
    {
      name: 'CMU-1-Small-Region.svs',
      file: path.resolve(repoRoot, '../shared/data/slides/CMU-1-Small-Region.svs'),
      w: 2220,
      h: 2967,
    },
    { name: `synthetic ${size}²`, file: synth, w: size, h: size },
  ];
  const results: Record<
    string,
    { openslide: ReadResult; ours: ReadResult; reuse: ReadResult; pool: ReadResult }
  > = {};
  for (const [i, s] of slides.entries()) {
    const spec: Coords = { slide: s.file, points: seededPoints(s.w, s.h, n, 1234 + i) };
    const specFile = path.join(values.dir!, `read-bench-${i}.json`);
    writeFileSync(specFile, JSON.stringify(spec));
    // Alternate the readers and keep each one's better run: load from other work comes and goes.
    const best = <T extends ReadResult>(a: T | undefined, b: T) => (a && a.rate >= b.rate ? a : b);
    let openslide: ReadResult | undefined;
    let ours: ReadResult | undefined;
    let reuse: ReadResult | undefined;
    let pool: ReadResult | undefined;
    for (let round = 0; round < 2; round++) {
      openslide = best(openslide, runOpenSlide(specFile));
      ours = best(ours, runOurs(specFile, false));
      reuse = best(reuse, runOurs(specFile, true));
      pool = best(pool, await runPool(spec, workers));
    }
    if (!openslide || !ours || !reuse || !pool) throw new Error('no runs');
    results[s.name] = { openslide, ours, reuse, pool };
    process.stdout.write(
      `${s.name}: ${n} random ${REGION}² level-0 reads (cold cache)\n` +
        `  OpenSlide read_region, 1 thread: ${openslide.rate.toFixed(0)} regions/s (${openslide.cpuRate!.toFixed(0)} per CPU-second)\n` +
        `  ours, 1 thread:                  ${ours.rate.toFixed(0)} regions/s (${ours.cpuRate!.toFixed(0)} per CPU-second)  = ${(ours.rate / openslide.rate).toFixed(2)}× OpenSlide (${(ours.cpuRate! / openslide.cpuRate!).toFixed(2)}× by CPU time); peak RSS ${ours.peakRssMb!.toFixed(0)} MB, of which reading added ${ours.rssGrowthMb!.toFixed(0)} MB (tile cache bound ${ours.cacheMb} MB)\n` +
        `  ours, 1 thread, reused buffer:   ${reuse.rate.toFixed(0)} regions/s (${reuse.cpuRate!.toFixed(0)} per CPU-second); reading added ${reuse.rssGrowthMb!.toFixed(0)} MB\n` +
        `  ours, pool of ${workers} workers:         ${pool.rate.toFixed(0)} regions/s (${pool.cpuRate!.toFixed(0)} per CPU-second)  = ${(pool.rate / reuse.rate).toFixed(2)}× ours on 1 thread with the same buffer reuse (${(pool.rate / ours.rate).toFixed(2)}× the new-buffer run)\n`,
    );
  }
  const [cmu, big] = slides.map((s) => results[s.name]);
  const vsCmu = cmu.ours.rate / cmu.openslide.rate;
  const vsBig = big.ours.rate / big.openslide.rate;
  const summary = {
    vs_openslide: Number(Math.min(vsCmu, vsBig).toFixed(3)),
    pool_speedup: Number((big.pool.rate / big.reuse.rate).toFixed(3)),
    peak_rss_mb: Math.round(Math.max(cmu.ours.peakRssMb!, big.ours.peakRssMb!)),
    rss_growth_mb: Math.round(Math.max(cmu.ours.rssGrowthMb!, big.ours.rssGrowthMb!)),
    // The same without a new buffer per region: the cache, its free lists and scratch only (no garbage awaiting GC).
    rss_growth_reused_buffer_mb: Math.round(Math.max(cmu.reuse.rssGrowthMb!, big.reuse.rssGrowthMb!)),
    cache_bound_mb: DEFAULT_CACHE_MB,
    pool_speedup_vs_new_buffers: Number((big.pool.rate / big.ours.rate).toFixed(3)),
    vs_openslide_cmu: Number(vsCmu.toFixed(3)),
    vs_openslide_synthetic: Number(vsBig.toFixed(3)),
    pool_speedup_cmu: Number((cmu.pool.rate / cmu.reuse.rate).toFixed(3)),
    vs_openslide_cpu_cmu: Number((cmu.ours.cpuRate! / cmu.openslide.cpuRate!).toFixed(3)),
    vs_openslide_cpu_synthetic: Number((big.ours.cpuRate! / big.openslide.cpuRate!).toFixed(3)),
    regions_per_s: {
      cmu: {
        openslide: Math.round(cmu.openslide.rate),
        ours: Math.round(cmu.ours.rate),
        ours_reused_buffer: Math.round(cmu.reuse.rate),
        pool: Math.round(cmu.pool.rate),
      },
      synthetic: {
        openslide: Math.round(big.openslide.rate),
        ours: Math.round(big.ours.rate),
        ours_reused_buffer: Math.round(big.reuse.rate),
        pool: Math.round(big.pool.rate),
      },
    },
    regions: n,
    synthetic_size: size,
    ...(await dicomBench(values.dir!, n)),
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

await main();
