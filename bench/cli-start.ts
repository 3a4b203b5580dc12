/**
 * How fast `wsi` starts: `wsi info <slide>` and `wsi --help` against OpenSlide's `openslide-show-properties`
 * on the same slide, measured in the same run.
 *
 *   npx tsx bench/cli-start.ts [--runs 11] [--tsx-runs 3] [--slide fixtures/slides/CMU-1-Small-Region.svs]
 *
 * First makes sure dist/ is fresh (scripts/build.ts --if-stale, what `make setup` runs) and that
 * bin/wsi.js takes the compiled path. Then runs, round robin so load changes hit every command alike:
 * openslide-show-properties, `node -e 0` (Node's own start-up, the floor for any Node CLI), `wsi info`,
 * `wsi --help`, and, fewer times, the same two from the TypeScript sources through tsx (WSI_FROM_SOURCE=1,
 * what every run cost before). Each process is timed by a small /usr/bin/python3 harness: wall clock and
 * CPU time (user + sys, from the child's rusage). Medians are reported. CPU time is the steadier figure when
 * other work shares the machine (wall time then includes waiting for a core); the load average is printed.
 * Also timed in-process: the freshness check bin/wsi.js does before every compiled run (for `wsi info`: the
 * files info can load) and the whole-build check each worker thread does.
 * When NODE_EXTRA_CA_CERTS is set, Node parses that certificate file at start-up, before any of our code
 * (about 45 ms of CPU for a 220 KB bundle on this machine): `node_noca` is `node -e 0` without it, so the
 * floor every Node CLI pays here can be told from what `wsi` adds.
 *
 * Targets: `wsi info` under 0.25 s and `wsi --help` under 0.3 s (wall, on an otherwise idle machine).
 * Last line: {"info_s", "help_s", "info_vs_openslide", "help_vs_openslide", CPU-time versions, ...details}
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkBuild } from '../bin/fresh-build.mjs';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WSI = path.join(repoRoot, 'bin/wsi.js');

// Runs each job's command `times` times, round robin; prints one JSON object: job → [[wall_s, cpu_s], ...].
const HARNESS = `
import json, os, resource, subprocess, sys, time
jobs = json.load(sys.stdin)
out = {j["name"]: [] for j in jobs}
for i in range(max(j["times"] for j in jobs)):
    for j in jobs:
        if i >= j["times"]:
            continue
        env = dict(os.environ, **j.get("env", {}))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        r = subprocess.run(j["argv"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        wall = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            sys.exit(f"{j['name']}: exit {r.returncode}: {r.stderr.decode()[:300]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        out[j["name"]].append([wall, cpu])
print(json.dumps(out))
`;

interface Job {
  name: string;
  argv: string[];
  times: number;
  env?: Record<string, string>;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const r3 = (x: number) => Number(x.toFixed(3));

function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(cmd, args, { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '11' },
      'tsx-runs': { type: 'string', default: '3' },
      slide: {
        type: 'string',
        default: path.join(repoRoot, 'fixtures/slides/CMU-1-Small-Region.svs'),
      },
    },
  });
  const runs = Number(values.runs);
  const tsxRuns = Number(values['tsx-runs']);
  const slide = path.resolve(values.slide);

  // The compiled path is what is measured: build it if stale, and check bin/wsi.js takes it.
  process.stdout.write(run(process.execPath, ['--import', 'tsx', 'scripts/build.ts', '--if-stale']).stdout);
  const which = run(process.execPath, [WSI, '--help'], { WSI_DEBUG_BUILD: '1' }).stderr;
  if (!which.startsWith('wsi: compiled build'))
    throw new Error(`bin/wsi.js did not take the compiled path: ${which}`);

  // The freshness check bin/wsi.js (and every worker thread) does before a compiled run, in-process.
  // Both what `wsi info` checks (the modules info can load) and the whole build (what a worker thread checks).
  const timeCheck = (scope: { command?: string }) => {
    const wall: number[] = [];
    let files = 0;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < 51; i++) {
      const t = performance.now();
      const c = checkBuild(scope);
      wall.push(performance.now() - t);
      if (!c.fresh) throw new Error(`dist/ went stale during the benchmark: ${c.reason}`);
      files = c.sources;
    }
    const used = process.cpuUsage(cpu0);
    return { wallMs: median(wall), cpuMs: (used.user + used.system) / 1000 / wall.length, files };
  };
  const checkInfo = timeCheck({ command: 'info' });
  const checkAll = timeCheck({});

  const load = loadavg();
  const jobs: Job[] = [
    { name: 'openslide', argv: ['openslide-show-properties', slide], times: runs },
    { name: 'node', argv: [process.execPath, '-e', '0'], times: runs },
    ...(process.env.NODE_EXTRA_CA_CERTS
      ? [
          {
            name: 'node_noca',
            argv: [process.execPath, '-e', '0'],
            times: runs,
            env: { NODE_EXTRA_CA_CERTS: '' },
          },
        ]
      : []),
    { name: 'info', argv: [process.execPath, WSI, 'info', slide], times: runs },
    { name: 'help', argv: [process.execPath, WSI, '--help'], times: runs },
    {
      name: 'info_tsx',
      argv: [process.execPath, WSI, 'info', slide],
      times: tsxRuns,
      env: { WSI_FROM_SOURCE: '1' },
    },
    {
      name: 'help_tsx',
      argv: [process.execPath, WSI, '--help'],
      times: tsxRuns,
      env: { WSI_FROM_SOURCE: '1' },
    },
  ];
  const h = spawnSync('/usr/bin/python3', ['-c', HARNESS], {
    input: JSON.stringify(jobs),
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (h.status !== 0) throw new Error(`timing harness failed: ${h.stderr}`);
  const samples = JSON.parse(h.stdout) as Record<string, [number, number][]>;
  const wall = (name: string) => median(samples[name].map((s) => s[0]));
  const cpu = (name: string) => median(samples[name].map((s) => s[1]));
  const loadAfter = loadavg();

  const rows = jobs.map((j) => j.name);
  process.stdout.write(
    `\nwsi start-up on ${path.basename(slide)}; medians of ${runs} runs (tsx path: ${tsxRuns})\n`,
  );
  process.stdout.write(`load average before/after: ${load[0].toFixed(1)} / ${loadAfter[0].toFixed(1)}\n\n`);
  process.stdout.write(
    `${'command'.padEnd(12)}${'wall s'.padStart(9)}${'cpu s'.padStart(9)}${'wall ×os'.padStart(10)}${'cpu ×os'.padStart(9)}\n`,
  );
  for (const name of rows) {
    process.stdout.write(
      `${name.padEnd(12)}${wall(name).toFixed(3).padStart(9)}${cpu(name).toFixed(3).padStart(9)}` +
        `${(wall(name) / wall('openslide')).toFixed(1).padStart(10)}${(cpu(name) / cpu('openslide')).toFixed(1).padStart(9)}\n`,
    );
  }
  process.stdout.write(
    `\nfreshness check, in-process (median wall, mean CPU): wsi info ${checkInfo.files} files ` +
      `${checkInfo.wallMs.toFixed(2)} / ${checkInfo.cpuMs.toFixed(2)} ms; whole build ${checkAll.files} files ` +
      `${checkAll.wallMs.toFixed(2)} / ${checkAll.cpuMs.toFixed(2)} ms\n` +
      `targets (wall): info < 0.25 s: ${wall('info') < 0.25 ? 'met' : 'NOT met'}; ` +
      `--help < 0.3 s: ${wall('help') < 0.3 ? 'met' : 'NOT met'}` +
      `${load[0] > 2 ? ' (machine loaded: compare CPU times and ratios)' : ''}\n`,
  );

  const summary = {
    info_s: r3(wall('info')),
    help_s: r3(wall('help')),
    openslide_s: r3(wall('openslide')),
    info_vs_openslide: r3(wall('info') / wall('openslide')),
    help_vs_openslide: r3(wall('help') / wall('openslide')),
    info_cpu_s: r3(cpu('info')),
    help_cpu_s: r3(cpu('help')),
    openslide_cpu_s: r3(cpu('openslide')),
    info_cpu_vs_openslide: r3(cpu('info') / cpu('openslide')),
    help_cpu_vs_openslide: r3(cpu('help') / cpu('openslide')),
    node_floor_s: r3(wall('node')),
    node_floor_cpu_s: r3(cpu('node')),
    ...(samples.node_noca
      ? { node_no_extra_ca_s: r3(wall('node_noca')), node_no_extra_ca_cpu_s: r3(cpu('node_noca')) }
      : {}),
    info_tsx_s: r3(wall('info_tsx')),
    help_tsx_s: r3(wall('help_tsx')),
    info_speedup_vs_tsx: r3(wall('info_tsx') / wall('info')),
    help_speedup_vs_tsx: r3(wall('help_tsx') / wall('help')),
    info_cpu_speedup_vs_tsx: r3(cpu('info_tsx') / cpu('info')),
    help_cpu_speedup_vs_tsx: r3(cpu('help_tsx') / cpu('help')),
    check_info_files: checkInfo.files,
    check_info_ms: r3(checkInfo.wallMs),
    check_info_cpu_ms: r3(checkInfo.cpuMs),
    check_all_files: checkAll.files,
    check_all_ms: r3(checkAll.wallMs),
    check_all_cpu_ms: r3(checkAll.cpuMs),
    targets_met: { info: wall('info') < 0.25, help: wall('help') < 0.3 },
    loadavg_1min: [r3(load[0]), r3(loadAfter[0])],
    runs,
    tsx_runs: tsxRuns,
  };
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

await main();
