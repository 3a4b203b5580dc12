/**
 * Deep Zoom serving throughput: `wsi serve` against OpenSlide's own example server
 * (deepzoom_server.py from Debian's python-openslide-examples, Flask, threaded) on the same large
 * synthetic slide, in the same run. N concurrent clients (1, 8, 32) fetch uncached tiles, half at
 * full resolution and half at mid levels (1/2 and 1/4); every (server, N) pass uses its own tiles, so
 * nothing is served from a cache. JPEG quality 75 for both. Each server runs in its default tile
 * geometry (OpenSlide 254 + 1, ours 256 + 0: the headline ratio) and, for a like-for-like check,
 * in the other's geometry too.
 *
 *   npx tsx bench/serve.ts [--slide FILE] [--size 40000] [--tiles 96]
 *
 * Our server sends a tile that is exactly one stored JPEG tile as the stored bytes (X-Tile-Source:
 * raw; at the file's own JPEG quality, not 75): each pass counts how many of its tiles went that way.
 *
 * Prints tiles/s, p50/p99 latency, errors and peak server RSS per pass, and last one JSON line:
 * {"vs_openslide_dz": <ours/OpenSlide tiles/s at N=8>, "p99_ms": <ours at N=8>, "errors": <ours, all passes>}
 * Numbers are noisy when other work shares the machine.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureSyntheticPyramid } from '../fixtures/synth-pyramid.ts';

const REPO = resolve(import.meta.dirname, '..');
const OPENSLIDE_DZ = '/usr/share/doc/python-openslide-examples/examples/deepzoom/deepzoom_server.py';
const QUALITY = 75;
const CLIENTS = [1, 8, 32];

const { values } = parseArgs({
  options: {
    slide: { type: 'string' },
    size: { type: 'string', default: '40000' },
    tiles: { type: 'string', default: '96' },
  },
});
const size = Number(values.size);
const slidePath = resolve(REPO, values.slide ?? `out/bench/synth-${size}.tif`);
/** Tiles per pass at N=1; N=8 and N=32 passes fetch 4× as many. */
const baseTiles = Number(values.tiles);

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => res(port));
    });
    s.on('error', rej);
  });
}

/** Peak resident set of a process (VmHWM), in MiB. */
function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

function fetchStatus(agent: Agent, url: string): Promise<{ status: number; bytes: number; raw?: boolean }> {
  return new Promise((res) => {
    const req = get(url, { agent }, (r) => {
      let bytes = 0;
      const raw = r.headers['x-tile-source'] === 'raw';
      r.on('data', (d: Buffer) => {
        bytes += d.length;
      });
      r.on('end', () => res({ status: r.statusCode ?? 0, bytes, raw }));
      r.on('error', () => res({ status: 0, bytes }));
    });
    req.on('error', () => res({ status: 0, bytes: 0 }));
    req.setTimeout(30_000, () => req.destroy());
  });
}

async function waitForUrl(url: string, proc: ChildProcess, what: string): Promise<void> {
  const agent = new Agent();
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with code ${proc.exitCode}`);
    const { status } = await fetchStatus(agent, url);
    if (status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not answer ${url}`);
}

/** Deep Zoom geometry (254 px tiles): columns and rows at a level. */
function dzGrid(width: number, height: number, level: number) {
  const max = Math.ceil(Math.log2(Math.max(width, height)));
  const scale = 2 ** (max - level);
  const w = Math.ceil(width / scale);
  const h = Math.ceil(height / scale);
  return { cols: Math.ceil(w / 254), rows: Math.ceil(h / 254), max };
}

/**
 * Disjoint random tile sets: one list of [level, col, row] per pass; half at full resolution, half at
 * mid levels (alternately 1/2 and 1/4 scale).
 */
function tileSets(width: number, height: number, counts: number[]): [number, number, number][][] {
  const max = dzGrid(width, height, 0).max;
  let s = 12345;
  const rand = () => {
    s = (s * 1103515245 + 12345) >>> 0;
    return s / 4294967296;
  };
  const used = new Set<string>();
  const pick = (level: number): [number, number, number] => {
    const g = dzGrid(width, height, level);
    for (let attempt = 0; attempt < 10_000; attempt++) {
      // Middle 80% of the slide: mostly tissue, as a viewer would ask for.
      const col = Math.floor((0.1 + rand() * 0.8) * g.cols);
      const row = Math.floor((0.1 + rand() * 0.8) * g.rows);
      const key = `${level}/${col}_${row}`;
      if (!used.has(key)) {
        used.add(key);
        return [level, col, row];
      }
    }
    throw new Error(`not enough distinct tiles at level ${level}: use a larger slide or fewer --tiles`);
  };
  const levelOf = (i: number) => (i % 2 === 0 ? max : i % 4 === 1 ? max - 1 : max - 2);
  return counts.map((n) => Array.from({ length: n }, (_, i) => pick(levelOf(i))));
}

interface PassResult {
  clients: number;
  tiles: number;
  tilesPerS: number;
  p50: number;
  p99: number;
  errors: number;
  /** Tiles the server sent as stored bytes (X-Tile-Source: raw). */
  raw: number;
}

async function runPass(
  base: string,
  tileUrl: (l: number, c: number, r: number) => string,
  tiles: [number, number, number][],
  clients: number,
): Promise<PassResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let errors = 0;
  let raw = 0;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < tiles.length) {
        const [l, c, r] = tiles[next++];
        const start = performance.now();
        const res = await fetchStatus(agent, `${base}${tileUrl(l, c, r)}`);
        latencies.push(performance.now() - start);
        if (res.status !== 200 || res.bytes < 100) errors++;
        if (res.raw) raw++;
      }
    }),
  );
  const wall = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    clients,
    tiles: tiles.length,
    tilesPerS: tiles.length / wall,
    p50: q(0.5),
    p99: q(0.99),
    errors,
    raw,
  };
}

interface Geometry {
  tileSize: number;
  overlap: number;
}
const OPENSLIDE_DEFAULT: Geometry = { tileSize: 254, overlap: 1 };
const OURS_DEFAULT: Geometry = { tileSize: 256, overlap: 0 };

interface ServerUnderTest {
  name: string;
  base: string;
  tileUrl: (l: number, c: number, r: number) => string;
  proc: ChildProcess;
}

async function startOurs(g: Geometry): Promise<ServerUnderTest> {
  const port = await freePort();
  const db = join(mkdtempSync(join(tmpdir(), 'wsi-bench-serve-')), 'bench.sqlite');
  const proc = spawn(
    process.execPath,
    [
      join(REPO, 'bin/wsi.js'),
      'serve',
      '--db',
      db,
      '--slides',
      slidePath,
      '--port',
      String(port),
      '--quality',
      String(QUALITY),
      '--tile-size',
      String(g.tileSize),
      '--overlap',
      String(g.overlap),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForUrl(`${base}/api/slides`, proc, 'wsi serve');
  const slides = JSON.parse(await (await fetch(`${base}/api/slides`)).text()) as { id: string }[];
  if (slides.length !== 1) throw new Error(`wsi serve registered ${slides.length} slides: ${out}`);
  const id = slides[0].id;
  return {
    name: `wsi serve ${g.tileSize}+${g.overlap}`,
    base,
    tileUrl: (l, c, r) => `/slides/${id}_files/${l}/${c}_${r}.jpeg`,
    proc,
  };
}

async function startOpenSlide(g: Geometry): Promise<ServerUnderTest> {
  const port = await freePort();
  const proc = spawn(
    '/usr/bin/python3',
    [
      OPENSLIDE_DZ,
      '-l',
      '127.0.0.1',
      '-p',
      String(port),
      '-Q',
      String(QUALITY),
      '-s',
      String(g.tileSize),
      '-e',
      String(g.overlap),
      slidePath,
    ],
    { stdio: ['ignore', 'ignore', 'ignore'] },
  );
  const base = `http://127.0.0.1:${port}`;
  await waitForUrl(`${base}/slide.dzi`, proc, 'deepzoom_server.py');
  return {
    name: `openslide dz ${g.tileSize}+${g.overlap}`,
    base,
    tileUrl: (l, c, r) => `/slide_files/${l}/${c}_${r}.jpeg`,
    proc,
  };
}

async function stop(s: ServerUnderTest): Promise<void> {
  if (s.proc.exitCode !== null) return;
  const done = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await done;
}

/** Another bench may be writing the same slide right now: wait for it rather than write it twice. */
async function waitForOtherWriter(file: string): Promise<void> {
  const partial = `${file}.partial`;
  while (!existsSync(file) && existsSync(partial) && Date.now() - statSync(partial).mtimeMs < 30_000) {
    log(`waiting for another process to finish ${partial} ...`);
    await new Promise((r) => setTimeout(r, 10_000));
  }
}

async function main(): Promise<void> {
  if (!existsSync(OPENSLIDE_DZ)) {
    throw new Error(`${OPENSLIDE_DZ} missing: apt-get install python-openslide-examples python3-flask`);
  }
  if (!values.slide) {
    await waitForOtherWriter(slidePath);
    const { reused } = await ensureSyntheticPyramid(slidePath, { size });
    log(`${reused ? 'reusing' : 'wrote'} ${slidePath}`);
  }
  // Same page-cache state for both servers: stream the file once first.
  let bytes = 0;
  for await (const chunk of createReadStream(slidePath, { highWaterMark: 4 << 20 }))
    bytes += (chunk as Buffer).length;
  log(`slide ${slidePath}: ${(bytes / 2 ** 20).toFixed(0)} MiB`);
  const dims = await slideSize(slidePath);
  const counts = CLIENTS.map((n) => (n === 1 ? baseTiles : baseTiles * 4));
  // Servers in the order they run; each runs alone on the machine, on tiles no other pass asked for.
  const runs: [string, () => Promise<ServerUnderTest>][] = [
    ['openslide default', () => startOpenSlide(OPENSLIDE_DEFAULT)],
    ['ours default', () => startOurs(OURS_DEFAULT)],
    ['openslide 256+0', () => startOpenSlide(OURS_DEFAULT)],
    ['ours 254+1', () => startOurs(OPENSLIDE_DEFAULT)],
  ];
  const sets = tileSets(
    dims.width,
    dims.height,
    runs.flatMap(() => counts),
  );
  const results = new Map<string, { name: string; passes: PassResult[]; rssMb: number }>();
  for (let s = 0; s < runs.length; s++) {
    const server = await runs[s][1]();
    try {
      // Warm-up on tiles outside the measured sets (slide open, code paths, thread pools).
      await runPass(
        server.base,
        server.tileUrl,
        [
          [8, 0, 0],
          [9, 0, 0],
          [9, 1, 1],
          [10, 1, 1],
        ],
        2,
      );
      const passes: PassResult[] = [];
      for (let i = 0; i < CLIENTS.length; i++) {
        const r = await runPass(server.base, server.tileUrl, sets[s * CLIENTS.length + i], CLIENTS[i]);
        passes.push(r);
        log(
          `${server.name.padEnd(20)} N=${String(r.clients).padStart(2)}  ${String(r.tiles).padStart(3)} tiles  ${r.tilesPerS.toFixed(1).padStart(6)} tiles/s  p50 ${r.p50.toFixed(0).padStart(4)} ms  p99 ${r.p99.toFixed(0).padStart(5)} ms  errors ${r.errors}  raw ${r.raw}`,
        );
      }
      const rssMb = peakRssMb(server.proc.pid!);
      log(`${server.name.padEnd(20)} peak RSS ${rssMb.toFixed(0)} MiB`);
      results.set(runs[s][0], { name: server.name, passes, rssMb });
    } finally {
      await stop(server);
    }
  }
  const at8 = (key: string) => results.get(key)!.passes.find((p) => p.clients === 8)!;
  const ratio = at8('ours default').tilesPerS / at8('openslide default').tilesPerS;
  const like254 = at8('ours 254+1').tilesPerS / at8('openslide default').tilesPerS;
  const like256 = at8('ours default').tilesPerS / at8('openslide 256+0').tilesPerS;
  log(
    `tiles/s at N=8, wsi serve / OpenSlide: defaults (256+0 vs 254+1) ${ratio.toFixed(2)}×; ` +
      `like for like 254+1 ${like254.toFixed(2)}×, 256+0 ${like256.toFixed(2)}×  (target ≥ 2×, p99 < 250 ms)`,
  );
  const summary = [...results.entries()].map(([key, r]) => ({
    server: key,
    rss_mb: +r.rssMb.toFixed(0),
    passes: r.passes.map((p) => ({
      clients: p.clients,
      tiles_s: +p.tilesPerS.toFixed(1),
      p50_ms: +p.p50.toFixed(1),
      p99_ms: +p.p99.toFixed(1),
      errors: p.errors,
      raw_tiles: p.raw,
    })),
  }));
  process.stdout.write(
    `${JSON.stringify({ runs: summary, like_for_like_254: +like254.toFixed(2), like_for_like_256: +like256.toFixed(2) })}\n`,
  );
  const ours = results.get('ours default')!;
  process.stdout.write(
    `${JSON.stringify({
      vs_openslide_dz: +ratio.toFixed(2),
      p99_ms: +at8('ours default').p99.toFixed(1),
      errors:
        ours.passes.reduce((a, p) => a + p.errors, 0) +
        results.get('ours 254+1')!.passes.reduce((a, p) => a + p.errors, 0),
    })}\n`,
  );
}

/** Level-0 size from the reader (the same numbers the server uses). */
async function slideSize(file: string): Promise<{ width: number; height: number }> {
  const { openSlide } = await import('../pipeline/slide/index.ts');
  const s = await openSlide(file);
  const dims = { width: s.width, height: s.height };
  await s.close();
  return dims;
}

main().catch((err: unknown) => {
  log(`bench/serve: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
