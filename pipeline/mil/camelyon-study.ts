/**
 * The whole CAMELYON-style study, stage by stage, each resumable on its own:
 *   1. patch classifier trained with CASED sampling on the training slides' annotations (trainClassifier;
 *      resumed from its checkpoint when interrupted, skipped when its run is done);
 *   2. FCN heatmaps of every slide (the infer stage; per-slide resume);
 *   3. embeddings of the classifier's features on the heatmap grid, one patch per `spacingUm` (per slide);
 *   4. attention-MIL trained on the training slides' labels only (skipped when done) and inferred on all
 *      slides (per slide);
 *   5. evaluation on the test slides: FROC of the heatmaps' detections, slide AUC (95% CI) of the FCN max
 *      score and of attention-MIL, ROC plot, attention mass in tumour, top-attention galleries, and a
 *      markdown report. Everything stays in the store for `wsi serve`.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, WsiError } from '../errors.ts';
import { type AucWithCi, rocAucWithCi, rocCurve } from '../eval/auc.ts';
import { detectionsFromScores } from '../eval/detections.ts';
import { evaluateFroc, type FrocReport } from '../eval/evaluate.ts';
import { initBackend } from '../models/backend.ts';
import { loadModel, readModelMeta } from '../models/model-io.ts';
import { readOodVerdicts } from '../ood/store.ts';
import type { WorkerPool } from '../pool.ts';
import { slideKey } from '../slide-labels.ts';
import { failureSummary } from '../stage/run-stage.ts';
import { embedSlides } from '../stages/embed.ts';
import { inferSlides } from '../stages/infer.ts';
import { inferMilToStore } from '../stages/mil-infer.ts';
import { parseStainNormFlag } from '../stain/estimate.ts';
import type { StainMethod } from '../stain/types.ts';
import { openStore, type Store } from '../store/db.ts';
import { runByOutDir, slideResultsOfRun } from '../store/mil-queries.ts';
import { scoredPatchesOfRun } from '../store/training-queries.ts';
import { hasCheckpoint } from '../train/checkpoint.ts';
import { AUGMENT_LEVELS, type AugmentLevel, ROBUST_DEFAULTS } from '../train/robust-defaults.ts';
import { trainClassifier } from '../train/run-train.ts';
import { DEFAULT_TRAIN } from '../train/trainer.ts';
import { attentionMassInTumour } from './attention-mass.ts';
import { readStudyFolder, type StudySlide, truthOf } from './camelyon-data.ts';
import { renderStudyReport, type StudyReport } from './camelyon-report.ts';
import { writeAttentionStrip } from './gallery.ts';
import { writeRocPng } from './roc-plot.ts';
import { writeSaliencyPanels } from './saliency-gallery.ts';
import { trainMilFromStore } from './study.ts';
import { checkStudySettings, trainingSlidesKey } from './study-settings.ts';

export interface StudyOptions {
  trainDir: string;
  testDir: string;
  outDir: string;
  /** Store path (default OUT/study.sqlite). */
  db?: string;
  /** Patch classifier training steps (CASED). */
  trainSteps: number;
  /** Patch classifier batch size (default: `wsi train`'s). */
  trainBatch?: number;
  /** Classifier µm/px. */
  mpp: number;
  /** One MIL instance per this many µm. */
  spacingUm: number;
  milEpochs?: number;
  /** Passed to training (see `wsi train`); absent = ROBUST_DEFAULTS (pipeline/train/robust-defaults.ts). */
  stainNorm?: StainMethod | 'none';
  augment?: AugmentLevel;
  seed: number;
  pool: WorkerPool;
  workers: number;
  log(line: string): void;
}

function trainStageDone(store: Store, outDir: string): boolean {
  return runByOutDir(store, 'train', outDir)?.status === 'done' && existsSync(join(outDir, 'wsi-model.json'));
}

export async function runCamelyonStudy(o: StudyOptions): Promise<StudyReport> {
  const outDir = resolve(o.outDir);
  mkdirSync(outDir, { recursive: true });
  const train = readStudyFolder(o.trainDir, '--train');
  const test = readStudyFolder(o.testDir, '--test');
  const trainNames = new Set(train.slides.map((s) => slideKey(s.name)));
  const clash = test.slides.find((s) => trainNames.has(slideKey(s.name)));
  if (clash)
    throw new ConfigError(`slide name '${clash.name}' is in both --train and --test; names must differ`);
  if (!train.slides.some((s) => s.label === 1) || !train.slides.some((s) => s.label === 0)) {
    throw new ConfigError('--train needs both tumour and normal slides');
  }
  // The effective values (defaults resolved), so a changed default is a changed setting.
  const stainNorm = o.stainNorm ?? ROBUST_DEFAULTS.stainNorm;
  const augment = o.augment ?? ROBUST_DEFAULTS.augment;
  checkStudySettings(outDir, {
    trainSteps: o.trainSteps,
    trainBatch: o.trainBatch ?? null,
    mpp: o.mpp,
    spacingUm: o.spacingUm,
    milEpochs: o.milEpochs ?? null,
    stainNorm,
    augment,
    seed: o.seed,
    trainSlides: trainingSlidesKey(train.slides),
  });
  const dbPath = resolve(o.db ?? join(outDir, 'study.sqlite'));
  const classifierDir = join(outDir, 'classifier');
  const milDir = join(outDir, 'mil-model');
  const timings: Record<string, number> = {};
  const timed = async <T>(stage: string, f: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    o.log(`── ${stage}`);
    try {
      return await f();
    } finally {
      timings[stage] = (performance.now() - t) / 1000;
    }
  };

  // 1. Patch classifier with CASED. A quarter of the training slides (at least one tumour slide) validate.
  let store = openStore(dbPath);
  const done = trainStageDone(store, classifierDir);
  store.close();
  await timed('patch classifier (CASED)', async () => {
    if (done) return o.log('already trained: skipped');
    const tumour = train.slides.filter((s) => s.label === 1);
    const val = train.slides.filter((s, i) => (s.label === 1 ? tumour.indexOf(s) % 4 === 1 : i % 4 === 3));
    const fit = train.slides.filter((s) => !val.includes(s));
    const trainStore = openStore(dbPath);
    try {
      await trainClassifier(trainStore, {
        trainPaths: fit.map((s) => s.path),
        valPaths: val.length && val.some((s) => s.label === 1) ? val.map((s) => s.path) : [],
        annotations: train.annotationsDir,
        outDir: classifierDir,
        mpp: o.mpp,
        config: {
          ...DEFAULT_TRAIN,
          sampler: 'cased',
          steps: o.trainSteps,
          seed: o.seed,
          valEvery: Math.max(1, Math.min(50, Math.floor(o.trainSteps / 4))),
          batchSize: o.trainBatch ?? DEFAULT_TRAIN.batchSize,
          augment: AUGMENT_LEVELS[augment],
        },
        resume: hasCheckpoint(classifierDir),
        stainNorm: parseStainNormFlag(stainNorm),
      });
    } finally {
      trainStore.close();
    }
  });

  // 2. FCN heatmaps over every slide (the stage called directly; its run is keyed by the model's content).
  const all: StudySlide[] = [...train.slides, ...test.slides];
  store = openStore(dbPath);
  try {
    const heatmaps = await timed('FCN heatmaps', () =>
      inferSlides({
        store,
        modelDir: classifierDir,
        slides: all.map((s) => s.path),
        minTissue: 0.5,
        workers: o.workers,
        quiet: true,
      }),
    );
    if (heatmaps.report.failed.length > 0) {
      throw new WsiError('STAGE', failureSummary(heatmaps.report.failed, all.length));
    }
    const inferRun = { id: heatmaps.runId };
    // Slides are their content ids from here on: a name is only a label (two sets may reuse names).
    const ids = new Map(heatmaps.slides.map((h) => [h.source, h.slideId as string]));
    const idOf = (sl: StudySlide): string => ids.get(sl.path) as string;

    // 3. Embeddings on the heatmap grid, thinned to one patch per spacing.
    const meta = readModelMeta(classifierDir);
    const embed = await timed('embeddings', () =>
      embedSlides(
        store,
        all.map((s) => s.path),
        {
          modelDir: classifierDir,
          pool: o.pool,
          patchesRun: inferRun.id,
          spacing: o.spacingUm / slideMpp(store, all[0], idOf(all[0])),
          dtype: 'float16',
        },
      ),
    );

    if (embed.failed > 0) throw new WsiError('STAGE', failureSummary(embed.report.failed, all.length));

    // 4. Attention-MIL from slide labels only.
    await initBackend({ log: o.log });
    const trainLabels = new Map(train.slides.map((s) => [idOf(s), s.label]));
    const milRun = runByOutDir(store, 'mil-train', milDir);
    await timed('attention-MIL training', async () => {
      if (milRun?.status === 'done' && existsSync(join(milDir, 'mil.json')))
        return o.log('already trained: skipped');
      await trainMilFromStore(store, {
        labels: trainLabels,
        outDir: milDir,
        embedRun: embed.runId,
        config: { seed: o.seed, epochs: o.milEpochs },
        log: o.log,
      });
    });
    const labels = new Map(all.map((s) => [idOf(s), s.label]));
    const mil = await timed('attention-MIL inference', () =>
      inferMilToStore(store, { modelDir: milDir, embedRun: embed.runId, labels }),
    );

    // 5. Evaluation on the test slides.
    return await timed('evaluation and report', () =>
      evaluateStudy(store, {
        outDir,
        dbPath,
        train: train.slides,
        test: test.slides,
        inferRunId: inferRun.id,
        embedRunId: embed.runId,
        milRunId: mil.runId,
        idOf,
        classifier: { dir: classifierDir, meta },
        milDir,
        timings,
        options: o,
      }),
    );
  } finally {
    store.close();
  }
}

function slideMpp(store: Store, slide: StudySlide, id: string): number {
  const row = store.db.prepare('SELECT mpp_x FROM slides WHERE id = ?').get(id) as
    | { mpp_x: number | null }
    | undefined;
  if (!row?.mpp_x) throw new ConfigError(`${slide.path} does not record its µm/px`);
  return row.mpp_x;
}

interface EvalInputs {
  outDir: string;
  dbPath: string;
  train: StudySlide[];
  test: StudySlide[];
  inferRunId: number;
  embedRunId: number;
  milRunId: number;
  /** A study slide's content id (results are looked up by it, never by name). */
  idOf: (s: StudySlide) => string;
  classifier: { dir: string; meta: ReturnType<typeof readModelMeta> };
  milDir: string;
  timings: Record<string, number>;
  options: StudyOptions;
}

function aucOrNull(scores: number[], labels: (0 | 1)[], seed: number): AucWithCi | null {
  return labels.includes(0) && labels.includes(1) ? rocAucWithCi(scores, labels, { seed }) : null;
}

async function evaluateStudy(store: Store, e: EvalInputs): Promise<StudyReport> {
  const { idOf } = e;
  const testKeys = new Set(e.test.map(idOf));
  const testLabels = e.test.map((s) => s.label);
  // FCN: slide score = max patch score; detections by NMS over the heatmap, FROC against the XML.
  const fcnScores = new Map(slideResultsOfRun(store, e.inferRunId).map((r) => [r.slideId, r.score]));
  const points = new Map<string, { x: number; y: number; score: number }[]>();
  let footprint = 0;
  for (const p of scoredPatchesOfRun(store, e.inferRunId)) {
    const key = p.slideId;
    if (!testKeys.has(key)) continue;
    footprint = p.width;
    const list = points.get(key) ?? [];
    list.push({ x: p.x + p.width / 2, y: p.y + p.height / 2, score: p.score });
    points.set(key, list);
  }
  let froc: FrocReport | null = null;
  const truths = new Map(e.test.map((s) => [idOf(s), truthOf(s)]));
  if ([...truths.values()].some((t) => t?.tumour.length)) {
    const geometry = new Map(
      (
        store.db.prepare('SELECT id, width, height, mpp_x AS mpp FROM slides').all() as {
          id: string;
          width: number;
          height: number;
          mpp: number | null;
        }[]
      ).map((r) => [r.id, r]),
    );
    try {
      froc = evaluateFroc({
        slides: [...testKeys],
        detections: (n) =>
          detectionsFromScores(points.get(n) ?? [], { threshold: 0.5, radius: 2 * footprint }),
        truth: (n) => truths.get(n) ?? null,
        geometry: (n) => {
          const g = geometry.get(n);
          return { width: g?.width, height: g?.height, mpp: g?.mpp ?? undefined };
        },
        defaultMpp: 0.25,
      });
      // The report names slides by their labels; FROC was keyed by content id.
      const nameOf = new Map(e.test.map((s) => [idOf(s), s.name]));
      froc = { ...froc, perSlide: froc.perSlide.map((p) => ({ ...p, name: nameOf.get(p.name) ?? p.name })) };
    } catch (err) {
      // Only ITC-sized lesions in the test truth: FROC is undefined, the rest of the report still holds.
      if (!(err instanceof ConfigError)) throw err;
    }
  }
  const fcnSlideScores = e.test.map((s) => fcnScores.get(idOf(s)) ?? 0);
  const fcnAuc = aucOrNull(fcnSlideScores, testLabels, e.options.seed);

  const milResults = new Map(slideResultsOfRun(store, e.milRunId).map((r) => [r.slideId, r]));
  const milScores = e.test.map((s) => milResults.get(idOf(s))?.score ?? 0);
  const milAuc = aucOrNull(milScores, testLabels, e.options.seed);

  // OOD hook: the FCN run's verdicts (pipeline/ood), by slide id.
  const verdicts = readOodVerdicts(store, e.inferRunId);
  const oodOf = (sl: StudySlide) => {
    const v = verdicts.get(idOf(sl));
    return v ? { outOfDistribution: v.outOfDistribution, oodReason: v.reason } : {};
  };

  const rocFile = join(e.outDir, 'roc.png');
  const curves = [];
  if (milAuc)
    curves.push({ name: 'attention-MIL', auc: milAuc.auc, points: rocCurve(milScores, testLabels) });
  if (fcnAuc)
    curves.push({ name: 'FCN max score', auc: fcnAuc.auc, points: rocCurve(fcnSlideScores, testLabels) });
  if (curves.length) await writeRocPng(rocFile, curves, `Slide-level ROC, ${e.test.length} test slides`);

  // Attention mass inside tumour on positive test slides, from the MIL run's stored weights.
  const attention = e.test
    .filter((s) => s.label === 1)
    .flatMap((s) => {
      const truth = truths.get(idOf(s));
      const result = milResults.get(idOf(s));
      if (!truth || !result) return [];
      const rows = store.db
        .prepare(
          'SELECT x, y, width, height, attention FROM patches WHERE run_id = ? AND slide_id = ? ORDER BY y, x',
        )

        .all(e.milRunId, result.slideId) as {
        x: number;
        y: number;
        width: number;
        height: number;
        attention: number;
      }[];
      const m = attentionMassInTumour(
        rows,
        rows.map((r) => r.attention),
        truth,
      );
      return [{ name: s.name, probability: result.score, ...m }];
    });

  // Galleries: the test slides MIL is most confident are tumour, up to three.
  const galleryDir = join(e.outDir, 'gallery');
  mkdirSync(galleryDir, { recursive: true });
  const ranked = e.test
    .map((s) => ({ s, r: milResults.get(idOf(s)) }))
    .filter((x) => x.r)
    .sort((a, b) => (b.r?.score ?? 0) - (a.r?.score ?? 0))
    .slice(0, 3);
  const galleries = [];
  // Saliency of the classifier on each gallery's top 2 patches (saliency-gallery.ts).
  const classifier = await loadModel(e.classifier.dir);
  for (const { s, r } of ranked) {
    const file = join(galleryDir, `${s.name}.png`);
    const strip = await writeAttentionStrip(
      store,
      e.milRunId,
      { id: r?.slideId as string, path: s.path },
      file,
    );
    galleries.push({
      name: s.name,
      label: s.label,
      probability: r?.score ?? 0,
      file: `gallery/${s.name}.png`,
      patches: strip.patches,
      saliency: (
        await writeSaliencyPanels(classifier.model, classifier.meta, s.path, strip.patches.slice(0, 2), (i) =>
          join(galleryDir, `${s.name}-saliency-${i + 1}.png`),
        )
      ).map((p, i) => ({ ...p, file: `gallery/${s.name}-saliency-${i + 1}.png` })),
    });
  }
  classifier.model.dispose();

  const report: StudyReport = {
    outDir: e.outDir,
    dbPath: e.dbPath,
    trainSlides: e.train.length,
    trainTumour: e.train.filter((s) => s.label === 1).length,
    testSlides: e.test.length,
    testTumour: e.test.filter((s) => s.label === 1).length,
    runs: { infer: e.inferRunId, embed: e.embedRunId, mil: e.milRunId },
    classifier: {
      dir: e.classifier.dir,
      steps: e.options.trainSteps,
      valAuc: (e.classifier.meta.training?.metrics?.auc ?? e.classifier.meta.training?.metrics?.valAuc) as
        | number
        | undefined,
    },
    milDir: e.milDir,
    fcnAuc,
    milAuc,
    froc,
    rocFile: curves.length ? 'roc.png' : null,
    attention,
    galleries,
    perSlide: e.test.map((s, i) => ({
      name: s.name,
      label: s.label,
      fcn: fcnSlideScores[i],
      mil: milScores[i],
      ...oodOf(s),
    })),
    timings: e.timings,
  };
  writeFileSync(join(e.outDir, 'report.md'), renderStudyReport(report));
  writeFileSync(join(e.outDir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
