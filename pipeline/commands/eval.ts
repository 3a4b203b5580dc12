/** `wsi eval`: CAMELYON16 FROC and slide-level ROC AUC, for our runs or any method's CSV output. */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { boolFlag, numberFlag, type Parsed, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { rocAucWithCi } from '../eval/auc.ts';
import { evaluateFroc, type FrocReport, frocInputsFromDirs, type SlideGeometry } from '../eval/evaluate.ts';
import { evaluateRun } from '../eval/run-eval.ts';
import { joinPredictions, readLabelsCsv, readPredictionsCsv, slideStem } from '../eval/tables.ts';
import { SLIDE_EXTENSIONS, slideFileNames } from '../io/slide-files.ts';
import { openStore } from '../store/index.ts';
import type { Command } from './types.ts';

const CAMELYON16_MPP = 0.243;

const usage = `
usage:
  wsi eval froc --detections DIR --truth DIR [--slides DIR] [--mpp 0.243] [--json]
  wsi eval auc --predictions CSV --labels CSV [--bootstrap 2000] [--seed 1] [--json]
  wsi eval --db FILE --run R --truth DIR [--labels CSV] [--threshold 0.5] [--radius PX] [--out DIR] [--json]

froc   CAMELYON16 lesion-level FROC. DIR of detections holds one CSV per slide named after it
       (confidence,X,Y in level-0 pixels); truth holds ASAP XML per tumour slide (no XML = normal).
       µm/px comes from the slides in --slides when given, else --mpp (default CAMELYON16's 0.243).
       Score = mean sensitivity at 1/4, 1/2, 1, 2, 4, 8 FPs per slide, each taken at the loosest
       threshold whose average FP count is <= the rate (as the official code; no interpolation).
auc    slide-level ROC AUC with a seeded percentile-bootstrap 95% CI. Predictions CSV: slide,probability;
       labels CSV in CAMELYON16 reference style: slide,Tumor|Normal.
--db   scores run R of a store: detections = local maxima of patch scores (>= --threshold, suppressed
       within --radius level-0 px, default two patch widths), slide score = max patch score; --out
       writes the per-slide CSVs and predictions.csv.
`;

function printFroc(r: FrocReport): string {
  const lines = [
    `FROC ${r.froc.toFixed(4)} over ${r.slides} slides, ${r.lesions} lesions (${r.truePositives} found), ${r.falsePositives} false positives`,
    `sensitivity at ${r.fpRates.map((f, i) => `${f} FP/slide: ${r.sensitivities[i].toFixed(4)}`).join(', ')}`,
  ];
  return `${lines.join('\n')}\n`;
}

async function slideGeometryFromDir(
  dir: string,
): Promise<{ names: string[]; geometry: (n: string) => Partial<SlideGeometry> }> {
  if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory())
    throw new ConfigError(`--slides: ${dir} is not a directory`);
  const files = slideFileNames(dir);
  if (files.length === 0)
    throw new ConfigError(`--slides: no slide files (${[...SLIDE_EXTENSIONS].join(' ')}) in ${dir}`);
  const { openSlide } = await import('../slide/index.ts');
  const geo = new Map<string, Partial<SlideGeometry>>();
  for (const f of files) {
    const slide = await openSlide(join(dir, f));
    try {
      geo.set(slideStem(f), { width: slide.width, height: slide.height, mpp: slide.mpp?.x });
    } finally {
      await slide.close();
    }
  }
  return { names: [...geo.keys()], geometry: (n) => geo.get(n) ?? {} };
}

async function runFroc(p: Parsed): Promise<number> {
  const detectionsDir = stringFlag(p, 'detections', true);
  const truthDir = stringFlag(p, 'truth', true);
  const mpp = numberFlag(p, 'mpp', { default: CAMELYON16_MPP, min: 1e-6 });
  const slidesDir = stringFlag(p, 'slides');
  const slides = slidesDir ? await slideGeometryFromDir(slidesDir) : undefined;
  const report = evaluateFroc(
    frocInputsFromDirs({
      detectionsDir,
      truthDir,
      defaultMpp: mpp,
      slideNames: slides?.names,
      geometry: slides?.geometry,
    }),
  );
  if (boolFlag(p, 'json')) {
    const { curve, ...rest } = report;
    process.stdout.write(
      `${JSON.stringify({ ...rest, curve: curve.map((c) => ({ ...c, threshold: Number.isFinite(c.threshold) ? c.threshold : null })) })}\n`,
    );
  } else process.stdout.write(printFroc(report));
  return 0;
}

function runAuc(p: Parsed): number {
  const predictions = readPredictionsCsv(stringFlag(p, 'predictions', true));
  const labels = readLabelsCsv(stringFlag(p, 'labels', true));
  const joined = joinPredictions(predictions, labels);
  const r = rocAucWithCi(joined.scores, joined.labels, {
    iterations: numberFlag(p, 'bootstrap', { default: 2000, integer: true, min: 1 }),
    seed: numberFlag(p, 'seed', { default: 1, integer: true }),
  });
  if (boolFlag(p, 'json')) process.stdout.write(`${JSON.stringify(r)}\n`);
  else
    process.stdout.write(
      `AUC ${r.auc.toFixed(4)} (95% CI ${r.ci95[0].toFixed(4)}–${r.ci95[1].toFixed(4)}, ${r.bootstrap} bootstrap resamples) on ${r.positives} tumour and ${r.negatives} normal slides\n`,
    );
  return 0;
}

function runDb(p: Parsed): number {
  const store = openStore(stringFlag(p, 'db', true), { readonly: true });
  try {
    const labelsPath = stringFlag(p, 'labels');
    const report = evaluateRun(store, numberFlag(p, 'run', { required: true, integer: true, min: 1 }), {
      truthDir: stringFlag(p, 'truth', true),
      labels: labelsPath ? readLabelsCsv(labelsPath) : undefined,
      threshold: numberFlag(p, 'threshold', { default: 0.5, min: 0, max: 1 }),
      radius: numberFlag(p, 'radius', { min: 1 }),
      defaultMpp: numberFlag(p, 'mpp', { default: CAMELYON16_MPP, min: 1e-6 }),
      outDir: stringFlag(p, 'out'),
    });
    if (boolFlag(p, 'json')) {
      const froc = report.froc ? { ...report.froc, curve: undefined } : null;
      process.stdout.write(
        `${JSON.stringify({ froc: froc?.froc ?? null, sensitivities: froc?.sensitivities ?? null, frocDetails: froc, auc: report.auc?.auc ?? null, ci95: report.auc?.ci95 ?? null, slides: report.slides })}\n`,
      );
    } else {
      process.stdout.write(
        report.froc ? printFroc(report.froc) : 'FROC: no tumour slides in the truth folder\n',
      );
      process.stdout.write(
        report.auc
          ? `slide AUC ${report.auc.auc.toFixed(4)} (95% CI ${report.auc.ci95[0].toFixed(4)}–${report.auc.ci95[1].toFixed(4)})\n`
          : 'slide AUC: needs both tumour and normal slides\n',
      );
    }
  } finally {
    store.close();
  }
  return 0;
}

export const command: Command = {
  name: 'eval',
  summary: 'CAMELYON16 FROC and slide-level ROC AUC (bootstrap CI) for our runs or any CSV output',
  usage,
  async run(argv) {
    const sub = argv[0] === 'froc' || argv[0] === 'auc' ? argv[0] : undefined;
    const p = parseFlags(
      sub ? argv.slice(1) : argv,
      {
        detections: { type: 'string' },
        truth: { type: 'string' },
        slides: { type: 'string' },
        mpp: { type: 'string' },
        predictions: { type: 'string' },
        labels: { type: 'string' },
        bootstrap: { type: 'string' },
        seed: { type: 'string' },
        db: { type: 'string' },
        run: { type: 'string' },
        threshold: { type: 'string' },
        radius: { type: 'string' },
        out: { type: 'string' },
        json: { type: 'boolean' },
      },
      false,
    );
    if (sub === 'froc') return runFroc(p);
    if (sub === 'auc') return runAuc(p);
    if (stringFlag(p, 'db')) return runDb(p);
    throw new ConfigError(
      "say 'wsi eval froc', 'wsi eval auc', or give --db with --run (see wsi eval --help)",
    );
  },
};
