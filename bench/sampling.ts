/**
 * Benchmark: does CASED sampling help on a CAMELYON-style set where tumour is rare?
 *
 * Generates (or reuses) synthetic training and test slides (fixtures/camelyon), builds the tissue patch
 * grids, trains the default patch classifier (fcn-small) for the same number of steps with the uniform,
 * class-balanced and CASED samplers, several seeds each, and scores the test slides: patch-level AUC,
 * slide-level AUC (slide score = max patch score) and CAMELYON16 FROC (detections = local maxima of the
 * patch scores). Writes bench/sampling.md and bench/sampling-froc.png; the last stdout line is JSON.
 * Uniform sampling is the reference the ratios are taken against (measured in the same run).
 *
 *   npx tsx bench/sampling.ts [--steps 120] [--batch 16] [--seeds 1,2,3] [--size 6144] [--train-slides 24]
 *                             [--test-slides 12] [--data out/bench-sampling] [--no-report | --report-only]
 * Each run's result is saved under DATA/results/, so seeds can run in parallel processes (--no-report)
 * and be assembled afterwards (--report-only).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { generateSyntheticSet, parseLesionSpec } from '../fixtures/camelyon/generate.ts';
import { numberFlag, parseFlags, stringFlag } from '../pipeline/args.ts';
import { rocAuc, rocAucWithCi } from '../pipeline/eval/auc.ts';
import { detectionsFromScores } from '../pipeline/eval/detections.ts';
import { evaluateFroc } from '../pipeline/eval/evaluate.ts';
import type { FrocResult } from '../pipeline/eval/froc.ts';
import { backendInfo, initBackend } from '../pipeline/models/backend.ts';
import { loadModel } from '../pipeline/models/model-io.ts';
import { archGeometry, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import type { SamplerKind } from '../pipeline/patches/samplers/index.ts';
import { buildPatchSet, type PatchSet, resolveSlidePaths, slideSources } from '../pipeline/train/dataset.ts';
import { scorePatches } from '../pipeline/train/score.ts';
import { DEFAULT_TRAIN, trainPatchClassifier } from '../pipeline/train/trainer.ts';

const repoRoot = resolve(import.meta.dirname, '..');
const p = parseFlags(process.argv.slice(2), {
  steps: { type: 'string' },
  batch: { type: 'string' },
  seeds: { type: 'string' },
  size: { type: 'string' },
  'train-slides': { type: 'string' },
  'test-slides': { type: 'string' },
  data: { type: 'string' },
  'no-report': { type: 'boolean' },
  'report-only': { type: 'boolean' },
});
// Runs can be split over processes (one per seed, `--no-report`), then assembled with `--report-only`.
const noReport = p.values['no-report'] === true;
const reportOnly = p.values['report-only'] === true;
const steps = numberFlag(p, 'steps', { default: 120, integer: true, min: 1 });
const batch = numberFlag(p, 'batch', { default: 16, integer: true, min: 2 });
const seeds = (stringFlag(p, 'seeds') ?? '1,2,3').split(',').map(Number);
const size = numberFlag(p, 'size', { default: 6144, integer: true, min: 2048 });
const nTrain = numberFlag(p, 'train-slides', { default: 24, integer: true, min: 2 });
const nTest = numberFlag(p, 'test-slides', { default: 12, integer: true, min: 2 });
const dataDir = resolve(repoRoot, stringFlag(p, 'data') ?? 'out/bench-sampling');
const SAMPLERS: SamplerKind[] = ['uniform', 'balanced', 'cased'];
const LESIONS = 'large:0,small:1,itc:1-2';
const started = performance.now();
const log = (s: string): void => {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0)}s] ${s}\n`);
};

async function ensureData(name: string, slides: number, seed: number, tumourShare: number): Promise<string> {
  const dir = join(dataDir, name);
  const manifest = join(dir, 'manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as {
      seed: number;
      size: number;
      slides: { tumour: boolean }[];
    };
    const tumour = m.slides.filter((s) => s.tumour).length;
    if (
      m.seed === seed &&
      m.size === size &&
      m.slides.length === slides &&
      tumour === Math.round(slides * tumourShare)
    )
      return dir;
  }
  log(`generating ${slides} ${name} slides (${size}² px)`);
  // reuse: slides an earlier run already wrote with the same seed and lesions are kept, not redrawn.
  await generateSyntheticSet({
    out: dir,
    slides,
    seed,
    size,
    tumourShare,
    lesions: parseLesionSpec(LESIONS),
    reuse: true,
  });
  return dir;
}

async function patchSet(dir: string): Promise<PatchSet> {
  const src = slideSources(await resolveSlidePaths(join(dir, 'slides')), join(dir, 'annotations'));
  return buildPatchSet(src, { mpp: 1, patchSize: archGeometry(SMALL_ARCH).receptiveField });
}

interface RunResult {
  sampler: SamplerKind;
  seed: number;
  patchAuc: number;
  slideAuc: number;
  slideCi: [number, number];
  froc: FrocResult;
  seconds: number;
  positivesSeen: number;
}

function evaluate(
  test: PatchSet,
  scores: Float32Array,
): { patchAuc: number; slideAuc: number; slideCi: [number, number]; froc: FrocResult } {
  const patchAuc = rocAuc(scores, test.labels);
  const names = test.slides.map((s) => s.name);
  const slideScore = names.map(() => 0);
  const points = names.map(() => [] as { x: number; y: number; score: number }[]);
  test.refs.forEach((r, i) => {
    slideScore[r.slide] = Math.max(slideScore[r.slide], scores[i]);
    points[r.slide].push({ x: r.x + r.size / 2, y: r.y + r.size / 2, score: scores[i] });
  });
  const slideLabels = test.slides.map((s) => (s.truth?.tumour.length ? 1 : 0));
  const slide = rocAucWithCi(slideScore, slideLabels, { seed: 1, iterations: 1000 });
  const size0 = test.refs[0].size;
  const froc = evaluateFroc({
    slides: names,
    detections: (n) =>
      detectionsFromScores(points[names.indexOf(n)], { threshold: 0.05, radius: 2 * size0, max: 200 }),
    truth: (n) => test.slides[names.indexOf(n)].truth,
    geometry: (n) => ({ width: size, height: size, mpp: test.slideMpp[names.indexOf(n)] }),
    defaultMpp: 0.25,
  });
  return { patchAuc, slideAuc: slide.auc, slideCi: slide.ci95, froc };
}

const COLOURS: Record<SamplerKind, string> = { uniform: '#d62728', balanced: '#1f77b4', cased: '#2ca02c' };

async function plotFroc(results: RunResult[], file: string): Promise<void> {
  const W = 640;
  const H = 420;
  const L = 60;
  const R = 20;
  const T = 30;
  const B = 50;
  // x: average FPs per slide on a log2 axis from 1/8 to 16; y: sensitivity 0..1.
  const xOf = (fp: number): number => L + ((Math.log2(Math.max(fp, 0.125)) + 3) / 7) * (W - L - R);
  const yOf = (s: number): number => T + (1 - s) * (H - T - B);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
  ];
  for (const fp of [0.125, 0.25, 0.5, 1, 2, 4, 8, 16]) {
    parts.push(`<line x1="${xOf(fp)}" y1="${T}" x2="${xOf(fp)}" y2="${H - B}" stroke="#ddd"/>`);
    parts.push(
      `<text x="${xOf(fp)}" y="${H - B + 16}" text-anchor="middle">${fp < 1 ? `1/${1 / fp}` : fp}</text>`,
    );
  }
  for (const s of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${L}" y1="${yOf(s)}" x2="${W - R}" y2="${yOf(s)}" stroke="#ddd"/>`);
    parts.push(`<text x="${L - 8}" y="${yOf(s) + 4}" text-anchor="end">${s.toFixed(2)}</text>`);
  }
  parts.push(
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">average false positives per slide</text>`,
  );
  parts.push(
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">sensitivity</text>`,
  );
  for (const r of results) {
    // Step curve: from the loosest threshold (most FPs) to the strictest.
    const pts = [...r.froc.curve].reverse().filter((c) => c.fps <= 16);
    const d = pts.map((c) => `${xOf(c.fps).toFixed(1)},${yOf(c.sensitivity).toFixed(1)}`).join(' ');
    parts.push(
      `<polyline points="${d}" fill="none" stroke="${COLOURS[r.sampler]}" stroke-width="1.5" stroke-opacity="0.8"/>`,
    );
  }
  SAMPLERS.forEach((s, i) => {
    parts.push(`<rect x="${L + 10 + i * 110}" y="${T - 20}" width="14" height="4" fill="${COLOURS[s]}"/>`);
    parts.push(`<text x="${L + 30 + i * 110}" y="${T - 14}">${s}</text>`);
  });
  parts.push('</svg>');
  await sharp(Buffer.from(parts.join('')))
    .png()
    .toFile(file);
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const sd = (v: number[]): number =>
  v.length < 2 ? 0 : Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1));
const fmt = (v: number[]): string => `${mean(v).toFixed(3)} ± ${sd(v).toFixed(3)}`;

async function main(): Promise<void> {
  await initBackend({ log });
  // One slide in six with tumour keeps tumour patches under 2% of the training patches.
  const trainDir = await ensureData('train', nTrain, 100, 1 / 6);
  const testDir = await ensureData('test', nTest, 200, 0.5);
  const train = await patchSet(trainDir);
  const test = await patchSet(testDir);
  const trainPos = train.labels.reduce((a, b) => a + b, 0);
  const testPos = test.labels.reduce((a, b) => a + b, 0);
  log(
    `train ${train.refs.length} patches (${trainPos} tumour, ${((100 * trainPos) / train.refs.length).toFixed(2)}%), test ${test.refs.length} (${testPos} tumour)`,
  );
  const results: RunResult[] = [];
  const resultsDir = join(dataDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultFile = (sampler: SamplerKind, seed: number) =>
    join(resultsDir, `${sampler}-${seed}-${steps}x${batch}.json`);
  for (const seed of reportOnly ? [] : seeds) {
    for (const sampler of SAMPLERS) {
      const out = join(dataDir, 'models', `${sampler}-${seed}`);
      rmSync(out, { recursive: true, force: true });
      const t0 = performance.now();
      let positivesSeen = 0;
      await trainPatchClassifier({
        train,
        outDir: out,
        resume: false,
        config: {
          ...DEFAULT_TRAIN,
          sampler,
          steps,
          batchSize: batch,
          seed,
          valEvery: steps,
          curriculumSteps: Math.round(steps / 3),
          refreshEvery: Math.max(1, Math.round(steps / 6)),
          refreshSize: 128,
        },
        onStep: (r) => {
          positivesSeen += r.positivesInBatch;
          if (r.step % 20 === 0)
            log(`${sampler} seed ${seed}: step ${r.step}/${steps} loss ${r.loss.toFixed(3)}`);
        },
      });
      const seconds = (performance.now() - t0) / 1000;
      const { model, meta } = await loadModel(out);
      const scores = scorePatches(model, test, Uint32Array.from(test.refs.keys()), meta.input.normalisation);
      model.dispose();
      const e = evaluate(test, scores);
      const result: RunResult = { sampler, seed, ...e, seconds, positivesSeen };
      writeFileSync(
        resultFile(sampler, seed),
        JSON.stringify(result, (_k, v) => (v === Number.POSITIVE_INFINITY ? null : v)),
      );
      results.push(result);
      log(
        `${sampler} seed ${seed}: patch AUC ${e.patchAuc.toFixed(3)}, slide AUC ${e.slideAuc.toFixed(3)}, FROC ${e.froc.froc.toFixed(3)} (${seconds.toFixed(0)} s)`,
      );
    }
  }
  if (noReport) return;
  if (reportOnly) {
    for (const seed of seeds)
      for (const sampler of SAMPLERS) {
        const file = resultFile(sampler, seed);
        if (!existsSync(file)) throw new Error(`missing result ${file}: run that seed first`);
        results.push(JSON.parse(readFileSync(file, 'utf8')) as RunResult);
      }
  }
  const by = (s: SamplerKind) => results.filter((r) => r.sampler === s);
  const summary = Object.fromEntries(
    SAMPLERS.map((s) => [
      s,
      {
        patchAuc: mean(by(s).map((r) => r.patchAuc)),
        slideAuc: mean(by(s).map((r) => r.slideAuc)),
        froc: mean(by(s).map((r) => r.froc.froc)),
        patchAucSd: sd(by(s).map((r) => r.patchAuc)),
        frocSd: sd(by(s).map((r) => r.froc.froc)),
      },
    ]),
  ) as Record<
    SamplerKind,
    { patchAuc: number; slideAuc: number; froc: number; patchAucSd: number; frocSd: number }
  >;
  const ratio = (s: SamplerKind, k: 'patchAuc' | 'froc') =>
    summary.uniform[k] > 0 ? summary[s][k] / summary.uniform[k] : Number.NaN;
  await plotFroc(results, join(repoRoot, 'bench', 'sampling-froc.png'));
  const slidesAucCi = (s: SamplerKind) => by(s).map((r) => r.slideAuc);
  const nearChance = results
    .filter((r) => r.sampler !== 'uniform' && r.patchAuc < 0.6)
    .map((r) => `${r.sampler} seed ${r.seed}`);
  const lines = [
    '# Sampling benchmark: uniform vs class-balanced vs CASED',
    '',
    `Generated by \`npx tsx bench/sampling.ts --steps ${steps} --batch ${batch} --seeds ${seeds.join(',')} --size ${size} --train-slides ${nTrain} --test-slides ${nTest}\` on ${new Date().toISOString().slice(0, 16)} UTC; backend ${backendInfo()?.detail ?? '?'}; ${(results.reduce((a, r) => a + r.seconds, 0) / 60).toFixed(1)} min of training in all.`,
    '',
    '## Set-up',
    `- Data: synthetic CAMELYON-style slides from \`fixtures/camelyon\` (a software test bed, not real pathology), ${size}×${size} px at 0.25 µm/px. Training: ${nTrain} slides (seed 100, one in six with tumour), test: ${nTest} slides (seed 200, half with tumour); tumour slides carry one small lesion (220–380 µm) and 1–2 isolated-tumour-cell clusters (\`--lesions ${LESIONS}\`).`,
    `- Patches: non-overlapping ${train.patchSize}×${train.patchSize} px at 1 µm/px on tissue, cut as \`wsi patches\` cuts them (pipeline/tissue mask, ≥ 50% tissue); tumour when the central 32×32 px of the patch touch a truth polygon outside exclusions (the PatchCamelyon rule), normal otherwise. Training: ${train.refs.length} patches, ${trainPos} tumour (**${((100 * trainPos) / train.refs.length).toFixed(2)}%**). Test: ${test.refs.length} patches, ${testPos} tumour.`,
    `- Model: the default \`fcn-small\` (8 convolutions, receptive field ${train.patchSize} px), Adam lr ${DEFAULT_TRAIN.learningRate}, batch ${batch}, **${steps} steps** for every sampler, augmentation on (flips, 90° rotations, H&E jitter). The model after the last step is scored (no validation-based selection, so no sampler gets a different stopping rule).`,
    `- Samplers: uniform over all patches; balanced = 50% tumour per batch, uniform within class; CASED = 50% tumour per batch, curriculum from balanced to loss-proportional over ${Math.round(steps / 3)} steps, floor ε = ${DEFAULT_TRAIN.floor}, 128 patches re-scored every ${Math.max(1, Math.round(steps / 6))} steps.`,
    '- Metrics on the test slides: patch AUC over all test patches; slide AUC with slide score = max patch score; CAMELYON16 FROC (pipeline/eval: level-5 evaluation mask, 37.5 µm dilation, ITCs ignored) on detections = local maxima of patch scores ≥ 0.05 suppressed within two patch widths; FROC = mean sensitivity at 1/4…8 FPs/slide, sensitivity taken at the loosest threshold with average FPs ≤ the rate (official rule, no interpolation).',
    '',
    '## Results (mean ± sd over seeds)',
    '',
    '| sampler | patch AUC | slide AUC | FROC | tumour patches seen in training | patch AUC / uniform | FROC / uniform |',
    '|---|---|---|---|---|---|---|',
    ...SAMPLERS.map(
      (s) =>
        `| ${s} | ${fmt(by(s).map((r) => r.patchAuc))} | ${fmt(slidesAucCi(s))} | ${fmt(by(s).map((r) => r.froc.froc))} | ${Math.round(mean(by(s).map((r) => r.positivesSeen)))} of ${steps * batch} | ${ratio(s, 'patchAuc').toFixed(3)} | ${ratio(s, 'froc').toFixed(3)} |`,
    ),
    '',
    '### Per run',
    '',
    '| sampler | seed | patch AUC | slide AUC (95% CI) | FROC | sensitivity at 1/4, 1/2, 1, 2, 4, 8 FP | train s |',
    '|---|---|---|---|---|---|---|',
    ...results.map(
      (r) =>
        `| ${r.sampler} | ${r.seed} | ${r.patchAuc.toFixed(3)} | ${r.slideAuc.toFixed(3)} (${r.slideCi[0].toFixed(2)}–${r.slideCi[1].toFixed(2)}) | ${r.froc.froc.toFixed(3)} | ${r.froc.sensitivities.map((v) => v.toFixed(2)).join(', ')} | ${r.seconds.toFixed(0)} |`,
    ),
    '',
    `Test set: ${results[0]?.froc.lesions ?? 0} lesions to find (ITCs excluded by the evaluation) on ${nTest} slides; slide AUC rests on ${nTest} slides only, so its bootstrap 95% intervals (per run above) are wide.`,
    '',
    '![FROC curves](sampling-froc.png)',
    '',
    '## Conclusion',
    '',
    'CONCLUSION_PLACEHOLDER',
    '',
    '## Caveats',
    '- Timings and anything time-related were measured on a 2-core machine shared with other jobs: noisy.',
    '- Reduced scale: see the command line above (steps, batch, slide size); the full-scale run is the same command with more steps (e.g. `--steps 1000 --batch 32`).',
    '- Synthetic data: tumour here is easier to see than in real lymph nodes; only the relative behaviour of the samplers is of interest.',
    `- Short runs: after ${steps} steps the batch-norm moving averages used at inference (tfjs momentum 0.99) have moved only ${(100 * (1 - 0.99 ** steps)).toFixed(0)}% of the way from their initial values to the batch statistics, which may explain part of the seed-to-seed spread${nearChance.length ? ` (${nearChance.join(', ')} ended near chance on the test set although the last training batches had low loss; the cause was not checked)` : ''}. Longer runs are needed before small differences between samplers mean anything.`,
    '',
  ];
  const best = [...SAMPLERS].sort((a, b) => summary[b].froc - summary[a].froc)[0];
  const bestAuc = [...SAMPLERS].sort((a, b) => summary[b].patchAuc - summary[a].patchAuc)[0];
  const conclusion = `On these numbers, the highest mean FROC is ${best} (${summary[best].froc.toFixed(3)}; uniform ${summary.uniform.froc.toFixed(3)}, balanced ${summary.balanced.froc.toFixed(3)}, CASED ${summary.cased.froc.toFixed(3)}) and the highest mean patch AUC is ${bestAuc} (${summary[bestAuc].patchAuc.toFixed(3)}). With ${seeds.length} seeds and sd up to ${Math.max(...SAMPLERS.map((s) => summary[s].frocSd)).toFixed(3)} in FROC, differences smaller than about two sd are not evidence either way.`;
  writeFileSync(
    join(repoRoot, 'bench', 'sampling.md'),
    lines.join('\n').replace('CONCLUSION_PLACEHOLDER', conclusion),
  );
  log('wrote bench/sampling.md and bench/sampling-froc.png');
  const json = {
    bench: 'sampling',
    steps,
    batch,
    seeds,
    trainPatches: train.refs.length,
    trainTumourShare: trainPos / train.refs.length,
    ...Object.fromEntries(SAMPLERS.map((s) => [s, summary[s]])),
    casedVsUniform: { patchAuc: ratio('cased', 'patchAuc'), froc: ratio('cased', 'froc') },
    balancedVsUniform: { patchAuc: ratio('balanced', 'patchAuc'), froc: ratio('balanced', 'froc') },
  };
  process.stdout.write(`${JSON.stringify(json)}\n`);
}

await main();
