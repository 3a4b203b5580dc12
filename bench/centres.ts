/**
 * Multi-centre benchmark (issue 16): does a model trained on some synthetic "hospitals" hold up on another
 * one, with which stain normalisation / augmentation, and does the out-of-distribution verdict fire when it
 * should?
 *
 * 1. Slides: `wsi synth --centre C` once per centre (cached under OUT/slides, `--reuse`): the training-pool
 *    centres, plus `far` and `wrong-scale` for the OOD rates.
 * 2. Leave-one-centre-out: for each held-out pool centre in turn, a study folder trains on the other pool
 *    centres' first slides (half tumour) and tests on the held-out centre's slides (symlinks, OUT/splits/).
 * 3. For every setting (none, reinhard, macenko, vahadane, augment, and the best normaliser + augment) and
 *    seed (the first --phase settings for all seeds first, so a stopped run has those complete), `wsi camelyon` with every flag explicit (so the figures do not depend on the defaults of the
 *    day), each study in its own OUT/studies/<held-out>/<setting>/seed<S>/; a study whose report.json
 *    exists is skipped, so a killed benchmark resumes.
 * 4. OOD: the verdict of every held-out test slide (report.json perSlide[].outOfDistribution), and, against
 *    the same classifier's saved training statistics, of held-out slides from the training centres (not
 *    trained on), of `far` slides and of `wrong-scale` slides.
 * Writes bench/centres.md (bench/centres/report.ts); the last stdout line is one JSON object, with the best
 * setting's mean attention-MIL AUC as a ratio against "none" measured in the same run.
 *
 *   npx tsx bench/centres.ts [--centres reference,pale-blue,purple-eosin] [--train-per-centre 4]
 *     [--test-per-centre 6] [--slides-per-centre 8] [--ood-slides 6] [--size 2048] [--seeds 1,2,3]
 *     [--settings none,augment,macenko,combo,reinhard,vahadane] [--phase 4] [--combo macenko+augment]
 *     [--train-steps 50] [--train-batch 16] [--mil-epochs 20] [--workers 2] [--out out/bench-centres]
 *     [--report-only] [--md bench/centres.md]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { CENTRES } from '../fixtures/camelyon/centre.ts';
import { numberFlag, parseFlags, stringFlag } from '../pipeline/args.ts';
import { ConfigError } from '../pipeline/errors.ts';
import type { StudyReport } from '../pipeline/mil/camelyon-report.ts';
import { readModelMeta } from '../pipeline/models/model-io.ts';
import { type OodVerdict, oodVerdict, type SlideStats, slideStats } from '../pipeline/ood/verdict.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { STAIN_METHODS } from '../pipeline/stain/types.ts';
import {
  type BenchResult,
  type OodRow,
  renderCentresReport,
  type Setting,
  type StudyRun,
  type Summary,
  summarise,
} from './centres/report.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const argv = process.argv.slice(2);
const p = parseFlags(argv, {
  centres: { type: 'string' },
  'train-per-centre': { type: 'string' },
  'test-per-centre': { type: 'string' },
  'slides-per-centre': { type: 'string' },
  'ood-slides': { type: 'string' },
  size: { type: 'string' },
  seeds: { type: 'string' },
  settings: { type: 'string' },
  combo: { type: 'string' },
  phase: { type: 'string' },
  'train-steps': { type: 'string' },
  'train-batch': { type: 'string' },
  'mil-epochs': { type: 'string' },
  workers: { type: 'string' },
  out: { type: 'string' },
  md: { type: 'string' },
  'report-only': { type: 'boolean' },
});
const pool = (stringFlag(p, 'centres') ?? 'reference,pale-blue,purple-eosin').split(',');
for (const c of [...pool, 'far', 'wrong-scale'])
  if (!CENTRES[c]) throw new ConfigError(`unknown centre '${c}' (known: ${Object.keys(CENTRES).join(', ')})`);
if (pool.length < 2) throw new ConfigError('--centres needs at least two centres');
const trainPer = numberFlag(p, 'train-per-centre', { default: 4, integer: true, min: 2 });
const testPer = numberFlag(p, 'test-per-centre', { default: 6, integer: true, min: 2 });
const perCentre = numberFlag(p, 'slides-per-centre', { default: 8, integer: true, min: 2 });
if (Math.max(trainPer, testPer) > perCentre)
  throw new ConfigError('--train-per-centre and --test-per-centre must not exceed --slides-per-centre');
const oodSlides = numberFlag(p, 'ood-slides', { default: 6, integer: true, min: 1 });
const size = numberFlag(p, 'size', { default: 2048, integer: true, min: 1024 });
const seeds = (stringFlag(p, 'seeds') ?? '1,2,3').split(',').map(Number);
const settingNames = (stringFlag(p, 'settings') ?? 'none,augment,macenko,combo,reinhard,vahadane').split(',');
const phaseSize = numberFlag(p, 'phase', { default: 4, integer: true, min: 1 });
const trainSteps = numberFlag(p, 'train-steps', { default: 50, integer: true, min: 1 });
const trainBatch = numberFlag(p, 'train-batch', { default: 16, integer: true, min: 2 });
const milEpochs = numberFlag(p, 'mil-epochs', { default: 20, integer: true, min: 1 });
const workers = numberFlag(p, 'workers', { default: 2, integer: true, min: 1 });
const OUT = resolve(repoRoot, stringFlag(p, 'out') ?? 'out/bench-centres');
const MD = resolve(repoRoot, stringFlag(p, 'md') ?? 'bench/centres.md');
const LESIONS = 'small:1-1,large:0-0,itc:0-0';
const reportOnly = p.values['report-only'] === true;
/** The command that reproduces the figures (without the re-rendering flags). */
const benchCommand = [
  'npx tsx bench/centres.ts',
  ...argv.filter((a, i) => a !== '--report-only' && a !== '--md' && argv[i - 1] !== '--md'),
].join(' ');
const started = performance.now();
const log = (s: string): void => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${s}\n`);
};
const rel = (f: string): string => relative(repoRoot, f) || '.';

/** A setting's flags, all explicit: `none` is no normalisation with the light (old default) augmentation. */
function parseSetting(name: string): Setting {
  if (name === 'none') return { name, stainNorm: 'none', augment: 'light' };
  if (name === 'augment') return { name, stainNorm: 'none', augment: 'strong' };
  if ((STAIN_METHODS as readonly string[]).includes(name))
    return { name, stainNorm: name as Setting['stainNorm'], augment: 'light' };
  const m = /^(reinhard|macenko|vahadane)\+augment$/.exec(name);
  if (m) return { name, stainNorm: m[1] as Setting['stainNorm'], augment: 'strong' };
  throw new ConfigError(
    `unknown setting '${name}' (none, reinhard, macenko, vahadane, augment, NORM+augment, combo)`,
  );
}

// ── slides ───────────────────────────────────────────────────────────────────────────────────────────

interface ManifestSlide {
  name: string;
  file: string;
  annotation: string | null;
  tumour: boolean;
}

/** Runs a command, output to `logFile`; resolves with wall and CPU seconds (GNU time) and the exit code. */
function run(args: string[], logFile: string): Promise<{ code: number; wallS: number; cpuS: number | null }> {
  const t = performance.now();
  const cpuFile = `${logFile}.cpu`;
  return new Promise((done, fail) => {
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', cpuFile, ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', fail);
    child.on('close', (code) => {
      writeFileSync(logFile, Buffer.concat(chunks));
      let cpuS: number | null = null;
      try {
        const [u, s] = readFileSync(cpuFile, 'utf8').trim().split(/\s+/).slice(-2).map(Number);
        if (Number.isFinite(u + s)) cpuS = u + s;
      } catch {
        // No CPU figure (time failed to write it): the wall time still stands.
      }
      done({ code: code ?? 1, wallS: (performance.now() - t) / 1000, cpuS });
    });
  });
}

const WSI = ['node', 'bin/wsi.js'];

/** Centre seeds are fixed by the centre's place in CENTRES, so a centre's slides do not depend on the pool. */
function synthCommand(centre: string, slides: number): string[] {
  const seed = 100 + Object.keys(CENTRES).indexOf(centre);
  return [
    ...WSI,
    'synth',
    '--out',
    rel(join(OUT, 'slides', centre)),
    '--slides',
    String(slides),
    '--seed',
    String(seed),
    '--size',
    String(size),
    '--prefix',
    centre.replace(/-/g, ''),
    '--centre',
    centre,
    '--lesions',
    LESIONS,
    '--reuse',
  ];
}

async function synthCentre(centre: string, slides: number, commands: string[]): Promise<ManifestSlide[]> {
  const dir = join(OUT, 'slides', centre);
  const args = synthCommand(centre, slides);
  commands.push(args.join(' '));
  const manifest = join(dir, 'manifest.json');
  const current = () =>
    existsSync(manifest)
      ? (JSON.parse(readFileSync(manifest, 'utf8')) as { seed: number; slides: ManifestSlide[] })
      : undefined;
  const m = current();
  if (!m || m.slides.length !== slides || m.seed !== Number(args[args.indexOf('--seed') + 1])) {
    log(`synth ${centre}: ${slides} slides`);
    mkdirSync(join(OUT, 'logs'), { recursive: true });
    const r = await run(args, join(OUT, 'logs', `synth-${centre}.log`));
    if (r.code !== 0) throw new Error(`wsi synth for ${centre} failed (OUT/logs/synth-${centre}.log)`);
  }
  return (current() as { slides: ManifestSlide[] }).slides.map((s) => ({
    ...s,
    // The manifest keeps paths as synth was given them: rebuild them from the set's layout.
    file: join(dir, 'slides', basename(s.file)),
    annotation: s.annotation ? join(dir, 'annotations', basename(s.annotation)) : null,
  }));
}

/** The first n/2 tumour and n/2 normal slides (n odd: the extra one normal). */
function balanced(slides: readonly ManifestSlide[], n: number): ManifestSlide[] {
  const t = slides.filter((s) => s.tumour).slice(0, Math.floor(n / 2));
  const nn = slides.filter((s) => !s.tumour).slice(0, n - t.length);
  return [...t, ...nn];
}

/** A study folder of symlinks (slides/, annotations/), rebuilt each run so it always matches the options. */
function studyFolder(dir: string, slides: readonly ManifestSlide[]): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'slides'), { recursive: true });
  mkdirSync(join(dir, 'annotations'), { recursive: true });
  for (const s of slides) {
    symlinkSync(s.file, join(dir, 'slides', s.file.split('/').pop() as string));
    if (s.annotation) symlinkSync(s.annotation, join(dir, 'annotations', `${s.name}.xml`));
  }
}

// ── studies ──────────────────────────────────────────────────────────────────────────────────────────

function studyArgs(split: string, setting: Setting, seed: number, outDir: string): string[] {
  return [
    ...WSI,
    'camelyon',
    '--train',
    rel(join(OUT, 'splits', split, 'train')),
    '--test',
    rel(join(OUT, 'splits', split, 'test')),
    '--out',
    rel(outDir),
    '--train-steps',
    String(trainSteps),
    '--train-batch',
    String(trainBatch),
    '--mil-epochs',
    String(milEpochs),
    '--seed',
    String(seed),
    '--workers',
    String(workers),
    '--stain-norm',
    setting.stainNorm,
    '--augmentation',
    setting.augment,
  ];
}

async function runStudy(split: string, setting: Setting, seed: number): Promise<StudyRun> {
  const outDir = join(OUT, 'studies', split, setting.name, `seed${seed}`);
  const args = studyArgs(split, setting, seed, outDir);
  const base = { heldOut: split, setting: setting.name, seed, command: args.join(' '), outDir: rel(outDir) };
  const reportFile = join(outDir, 'report.json');
  const timeFile = join(outDir, 'bench-time.json');
  if (!existsSync(reportFile)) {
    if (reportOnly) return { ...base, status: 'missing' };
    mkdirSync(outDir, { recursive: true });
    const load0 = loadavg()[0];
    log(`study ${split} / ${setting.name} / seed ${seed}`);
    const r = await run(args, join(outDir, 'study.log'));
    const load1 = loadavg()[0];
    if (r.code !== 0 || !existsSync(reportFile)) {
      log(`  failed (exit ${r.code}): ${rel(join(outDir, 'study.log'))}`);
      return { ...base, status: 'failed', wallS: r.wallS };
    }
    writeFileSync(timeFile, `${JSON.stringify({ wallS: r.wallS, cpuS: r.cpuS, load: [load0, load1] })}\n`);
    log(`  ${r.wallS.toFixed(0)} s wall, load ${load0.toFixed(1)}→${load1.toFixed(1)}`);
  }
  const report = JSON.parse(readFileSync(reportFile, 'utf8')) as StudyReport;
  const time = existsSync(timeFile)
    ? (JSON.parse(readFileSync(timeFile, 'utf8')) as { wallS: number; cpuS: number | null; load: number[] })
    : undefined;
  return {
    ...base,
    status: 'done',
    report,
    wallS: time?.wallS,
    cpuS: time?.cpuS ?? undefined,
    load: time?.load,
  };
}

/** The combination: the normaliser with the best mean MIL AUC so far (ties: FCN AUC), with strong augmentation. */
function chooseCombo(runs: readonly StudyRun[]): string {
  const file = join(OUT, 'combo.json');
  const given = stringFlag(p, 'combo');
  if (given) return given;
  if (existsSync(file)) return (JSON.parse(readFileSync(file, 'utf8')) as { combo: string }).combo;
  const scored = STAIN_METHODS.map((m) => {
    const rs = runs.filter((r) => r.setting === m && r.report);
    const mean = (f: (r: StudyRun) => number | undefined) => {
      const xs = rs.map(f).filter((x): x is number => x !== undefined);
      return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NEGATIVE_INFINITY;
    };
    return { m, mil: mean((r) => r.report?.milAuc?.auc), fcn: mean((r) => r.report?.fcnAuc?.auc) };
  }).sort((a, b) => b.mil - a.mil || b.fcn - a.fcn);
  const combo = `${scored[0].m}+augment`;
  writeFileSync(
    file,
    `${JSON.stringify({ combo, chosenFrom: scored, studies: runs.filter((r) => r.report).length })}\n`,
  );
  return combo;
}

// ── OOD on slides outside the studies' test sets ───────────────────────────────────────────────────────

const statsCacheFile = join(OUT, 'slide-stats.json');
const statsCache: Record<string, SlideStats & { mpp?: number }> = existsSync(statsCacheFile)
  ? JSON.parse(readFileSync(statsCacheFile, 'utf8'))
  : {};

async function statsOf(file: string): Promise<SlideStats & { mpp?: number }> {
  const key = rel(file);
  if (!statsCache[key]) {
    const slide = await openSlide(file);
    try {
      statsCache[key] = { ...(await slideStats(slide)), mpp: slide.mpp?.x };
    } finally {
      await slide.close();
    }
    writeFileSync(statsCacheFile, `${JSON.stringify(statsCache)}\n`);
  }
  return statsCache[key];
}

async function oodRows(
  runs: readonly StudyRun[],
  inDist: Map<string, ManifestSlide[]>,
  far: ManifestSlide[],
  wrongScale: ManifestSlide[],
): Promise<OodRow[]> {
  const rows: OodRow[] = [];
  for (const split of pool) {
    // The reference depends only on the training slides (not on the setting or seed): any finished study.
    const study = runs.find((r) => r.heldOut === split && r.report);
    if (!study?.report) continue;
    const ref = readModelMeta(study.report.classifier.dir).ood;
    if (!ref) continue;
    const verdicts = async (slides: readonly ManifestSlide[]): Promise<OodVerdict[]> => {
      const out = [];
      for (const s of slides) {
        const st = await statsOf(s.file);
        out.push(oodVerdict(ref, st, st.mpp));
      }
      return out;
    };
    const heldOutStudy = runs.filter((r) => r.heldOut === split && r.report);
    const fromReports = heldOutStudy.flatMap((r) => r.report?.perSlide ?? []);
    const idSlides = pool.filter((c) => c !== split).flatMap((c) => inDist.get(c) ?? []);
    rows.push({
      heldOut: split,
      refSlides: ref.slides,
      heldOutReport: {
        fired: fromReports.filter((s) => s.outOfDistribution).length,
        of: fromReports.length,
        reasons: [...new Set(fromReports.map((s) => s.oodReason).filter((x): x is string => !!x))],
      },
      heldOutDirect: tally(await verdicts(balanced(inDist.get(`test:${split}`) ?? [], testPer))),
      inDistribution: tally(await verdicts(idSlides)),
      far: tally(await verdicts(far)),
      wrongScale: tally(await verdicts(wrongScale)),
      refFrom: study.outDir,
    });
  }
  return rows;
}

function tally(vs: readonly OodVerdict[]): OodRow['far'] {
  return {
    fired: vs.filter((v) => v.outOfDistribution).length,
    of: vs.length,
    reasons: [...new Set(vs.filter((v) => v.reason).map((v) => v.reason.replace(/\d+(\.\d+)?/g, '#')))],
  };
}

// ── main ─────────────────────────────────────────────────────────────────────────────────────────────

async function main(): Promise<void> {
  const synthCommands: string[] = [];
  const slides = new Map<string, ManifestSlide[]>();
  for (const c of pool) slides.set(c, await synthCentre(c, perCentre, synthCommands));
  const far = (await synthCentre('far', oodSlides, synthCommands)).slice(0, oodSlides);
  const wrongScale = (await synthCentre('wrong-scale', oodSlides, synthCommands)).slice(0, oodSlides);

  // Training slides of a centre: its first trainPer (half tumour); in-distribution held-out: the rest.
  const inDist = new Map<string, ManifestSlide[]>();
  for (const split of pool) {
    const train = pool.filter((c) => c !== split).flatMap((c) => balanced(slides.get(c) ?? [], trainPer));
    const test = balanced(slides.get(split) ?? [], testPer);
    // --report-only may run beside a benchmark that is reading these folders: leave them alone.
    if (!reportOnly) {
      studyFolder(join(OUT, 'splits', split, 'train'), train);
      studyFolder(join(OUT, 'splits', split, 'test'), test);
    }
    const used = new Set(balanced(slides.get(split) ?? [], trainPer).map((s) => s.file));
    inDist.set(
      split,
      (slides.get(split) ?? []).filter((s) => !used.has(s.file)),
    );
    inDist.set(`test:${split}`, slides.get(split) ?? []);
  }

  // Slide statistics for the OOD rates first (cached), so the report can be written after every study.
  log('slide statistics for the OOD verdicts (cached in OUT/slide-stats.json)');
  for (const s of [...pool.flatMap((c) => slides.get(c) ?? []), ...far, ...wrongScale]) await statsOf(s.file);

  const runs: StudyRun[] = [];
  const t0 = performance.now();
  const write = async (final: boolean): Promise<Summary> => {
    const result: BenchResult = {
      command: benchCommand,
      commit: await gitHead(),
      date: new Date().toISOString().slice(0, 16).replace('T', ' '),
      options: {
        pool,
        trainPer,
        testPer,
        perCentre,
        oodSlides,
        size,
        seeds,
        trainSteps,
        trainBatch,
        milEpochs,
        workers,
        settings: settingNames,
        phase: phaseSize,
      },
      synthCommands,
      runs,
      ood: await oodRows(runs, inDist, far, wrongScale),
      benchWallS: (performance.now() - t0) / 1000,
      reportOnly,
      comboGiven: stringFlag(p, 'combo'),
      final,
    };
    const summary = summarise(result);
    writeFileSync(MD, renderCentresReport(result, summary));
    return summary;
  };
  // The first --phase settings run for every seed before the rest, each phase seed-major: a benchmark
  // stopped early has the most important settings complete.
  const phases = [settingNames.slice(0, phaseSize), settingNames.slice(phaseSize)].filter((x) => x.length);
  for (const phase of phases)
    for (const seed of seeds)
      for (const name of phase) {
        const setting = parseSetting(name === 'combo' ? chooseCombo(runs) : name);
        for (const split of pool) {
          const r = await runStudy(split, setting, seed);
          runs.push(r);
          if (r.status !== 'missing') await write(false);
        }
      }
  const summary = await write(true);
  log(`wrote ${rel(MD)}`);
  process.stdout.write(`${JSON.stringify(summary.json)}\n`);
}

async function gitHead(): Promise<string> {
  const chunks: Buffer[] = [];
  const code = await new Promise<number>((done) => {
    const c = spawn('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot });
    c.stdout.on('data', (b: Buffer) => chunks.push(b));
    c.on('close', (k) => done(k ?? 1));
    c.on('error', () => done(1));
  });
  return code === 0 ? Buffer.concat(chunks).toString().trim() : 'unknown';
}

await main();
