/**
 * `wsi count`: count cells in images (a plate or a dataset) or over a slide, or train the density counter.
 * Thin: flags → options → pipeline/counting.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { countsCsv } from '../counting/csv.ts';
import { DEFAULT_DENSITY_MODEL, loadDensityModel } from '../counting/density-io.ts';
import { writePlateHeatmap } from '../counting/heatmap.ts';
import { compileWellPattern, type PlateFormat } from '../counting/plate.ts';
import { WATERSHED_PRESETS, type WatershedPreset } from '../counting/watershed-counter.ts';
import { ConfigError } from '../errors.ts';
import { expandSlidePaths } from '../io/slide-files.ts';
import { createPool, defaultWorkerCount, poolExecutor } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { runStage, stageExitCode } from '../stage/index.ts';
import { countImagesStage, expandImageInputs } from '../stages/count-images.ts';
import { countSlideStage } from '../stages/count-slide.ts';
import { countsOfRun, wellsOfRun } from '../store/counting-queries.ts';
import { openStore } from '../store/db.ts';
import type { Command } from './types.ts';

const USAGE = `usage:
  wsi count <images|folder>... --method watershed|density [--model DIR] --out counts.csv
            [--db results.sqlite] [--plate 96|384] [--well-pattern REGEX] [--heatmap PNG]
            [--preset auto|fluorescence|brightfield] [--workers N] [--quiet]
  wsi count <slide> --region x,y,w,h | --tissue  --db results.sqlite [--method watershed] [--tile 1024] [--workers N]
  wsi count train --images DIR (--dots DIR | --labels DIR) --out MODEL_DIR [--n 32] [--holdout 30]
            [--seed 1] [--steps 2500] [--sigma 2] [--crop 64] [--batch 8]
            [--normalisation dataset|image] [--no-calibration] [--quiet]

Counting writes a CSV with columns image,plate,well,row,column,field,count,mean_area (plate columns are
empty for images whose names carry no well id) and, for plates, a heatmap PNG (default: next to the CSV).
With --db everything goes to the store (images as slides, counts, wells, cell centroids) and a re-run of
the same command resumes. The density method uses models/density-vgg unless --model is given.
Training draws --n images from all but the last --holdout (by name) and validates on those. Inputs are
normalised by the training images' channel statistics (--normalisation image: standardise each image)
and the count is calibrated on the training images (gain and offset, least squares) unless
--no-calibration; both are saved with the model.`;

async function train(argv: string[]): Promise<number> {
  const p = parseFlags(
    argv,
    {
      images: { type: 'string' },
      dots: { type: 'string' },
      labels: { type: 'string' },
      out: { type: 'string' },
      n: { type: 'string' },
      holdout: { type: 'string' },
      seed: { type: 'string' },
      steps: { type: 'string' },
      sigma: { type: 'string' },
      crop: { type: 'string' },
      batch: { type: 'string' },
      lr: { type: 'string' },
      normalisation: { type: 'string' },
      'no-calibration': { type: 'boolean' },
      quiet: { type: 'boolean' },
    },
    false,
  );
  const images = stringFlag(p, 'images', true);
  const out = stringFlag(p, 'out', true);
  const dots = stringFlag(p, 'dots');
  const labels = stringFlag(p, 'labels');
  if (dots && labels) throw new ConfigError('give either --dots or --labels, not both');
  const normalisation = stringFlag(p, 'normalisation') ?? 'dataset';
  if (normalisation !== 'dataset' && normalisation !== 'image') {
    throw new ConfigError(`--normalisation must be 'dataset' or 'image', got '${normalisation}'`);
  }
  const { runDensityTraining } = await import('../counting/train-run.ts');
  const r = await runDensityTraining({
    images,
    annotations: dots ?? labels,
    kind: labels ? 'labels' : 'dots',
    out,
    n: numberFlag(p, 'n', { default: 32, integer: true, min: 1 }),
    holdout: numberFlag(p, 'holdout', { default: 30, integer: true, min: 0 }),
    quiet: boolFlag(p, 'quiet'),
    config: {
      seed: numberFlag(p, 'seed', { default: 1, integer: true }),
      steps: numberFlag(p, 'steps', { default: 2500, integer: true, min: 1 }),
      sigma: numberFlag(p, 'sigma', { default: 2, min: 0.1 }),
      crop: numberFlag(p, 'crop', { default: 64, integer: true, min: 8 }),
      batch: numberFlag(p, 'batch', { default: 8, integer: true, min: 1 }),
      learningRate: numberFlag(p, 'lr', { default: 2e-3, min: 0 }),
      normalisation,
      calibrate: !boolFlag(p, 'no-calibration'),
    },
  });
  process.stdout.write(
    `${JSON.stringify({ out, n: r.train.length, valImages: r.val.length, valMae: r.valMae, trainMae: r.trainMae, seconds: Math.round(r.seconds) })}\n`,
  );
  return 0;
}

const FLAGS = {
  method: { type: 'string' },
  model: { type: 'string' },
  out: { type: 'string' },
  db: { type: 'string' },
  plate: { type: 'string' },
  'well-pattern': { type: 'string' },
  heatmap: { type: 'string' },
  preset: { type: 'string' },
  workers: { type: 'string' },
  region: { type: 'string' },
  tissue: { type: 'boolean' },
  tile: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** Counting images or slides: flags → a count stage → CSV, heatmaps, store. */
async function count(argv: string[]): Promise<number> {
  const p = parseFlags(argv, FLAGS);
  if (p.positionals.length === 0)
    throw new ConfigError('give images, a folder or a slide to count (wsi count --help)');
  const method = stringFlag(p, 'method') ?? 'watershed';
  if (method !== 'watershed' && method !== 'density') {
    throw new ConfigError(`--method must be watershed or density, got '${method}'`);
  }
  const preset = (stringFlag(p, 'preset') ?? 'auto') as WatershedPreset | 'auto';
  if (preset !== 'auto' && !(preset in WATERSHED_PRESETS)) {
    throw new ConfigError(`--preset must be auto, fluorescence or brightfield, got '${preset}'`);
  }
  const workers = numberFlag(p, 'workers', {
    default: defaultWorkerCount(),
    integer: true,
    min: 1,
    max: 256,
  });
  const quiet = boolFlag(p, 'quiet');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (stringFlag(p, 'region') !== undefined || boolFlag(p, 'tissue')) {
    if (stringFlag(p, 'region') !== undefined && boolFlag(p, 'tissue'))
      throw new ConfigError('give --region or --tissue, not both');
    const db = stringFlag(p, 'db', true);
    const stage = countSlideStage({
      region: stringFlag(p, 'region'),
      tile: numberFlag(p, 'tile', { default: 1024, integer: true, min: 64, max: 8192 }),
      preset: preset === 'auto' ? 'brightfield' : preset,
    });
    const inputs = expandSlidePaths(p.positionals);
    const store = openStore(db);
    const pool = createPool({ workers });
    const progress = createProgress({ total: 0, label: 'count slide', unit: 'tiles', quiet });
    try {
      const report = await runStage(stage, { store, executor: poolExecutor(pool), progress, inputs });
      const total = report.slides.reduce((n, s) => n + (s.items ?? 0), 0);
      if (!quiet) log(`counted ${total} nuclei; run ${report.runId} in ${db}`);
      return stageExitCode(report, log);
    } finally {
      await pool.close();
      store.close();
    }
  }
  const out = stringFlag(p, 'out', true);
  const plateFlag = numberFlag(p, 'plate', { default: 96, integer: true });
  if (plateFlag !== 96 && plateFlag !== 384)
    throw new ConfigError(`--plate must be 96 or 384, got ${plateFlag}`);
  const plate = plateFlag as PlateFormat;
  const patternSource = stringFlag(p, 'well-pattern');
  const compiledPattern = patternSource ? compileWellPattern(patternSource) : undefined;
  let modelDir: string | undefined;
  if (method === 'density') {
    modelDir = path.resolve(stringFlag(p, 'model') ?? DEFAULT_DENSITY_MODEL);
    await loadDensityModel(modelDir).then((m) => m.model.dispose()); // fail fast, in one line, on a bad model
  } else if (stringFlag(p, 'model')) {
    throw new ConfigError('--model applies to --method density only');
  }
  const images = expandImageInputs(p.positionals);
  const stage = countImagesStage({
    images,
    method,
    modelDir,
    preset,
    plate,
    pattern: patternSource,
    compiledPattern,
  });
  // Without --db the rows live in a store in memory just long enough to write the CSV.
  const db = stringFlag(p, 'db');
  const store = openStore(db ?? ':memory:');
  const pool = createPool({ workers });
  const progress = createProgress({ total: 0, label: 'count', unit: 'images', quiet });
  try {
    const report = await runStage(stage, {
      store,
      executor: poolExecutor(pool),
      progress,
      inputs: images,
      // One task per image: images in flight, not slides open, set the parallelism.
      slidesAtOnce: Math.max(2, workers * 2),
    });
    const byImage = new Map(countsOfRun(store, report.runId).map((r) => [r.image, r]));
    const rows = images.flatMap((f) => {
      const r = byImage.get(path.basename(f));
      return r ? [{ ...r, meanArea: r.meanArea }] : [];
    });
    writeFileSync(out, countsCsv(rows));
    const wells = wellsOfRun(store, report.runId);
    if (wells.length > 0) {
      const plates = [...new Set(wells.map((w) => w.plate))];
      const heatmap = stringFlag(p, 'heatmap') ?? `${out.replace(/\.csv$/i, '')}.heatmap.png`;
      for (const name of plates) {
        const file = plates.length === 1 ? heatmap : heatmap.replace(/\.png$/i, `.${name}.png`);
        await writePlateHeatmap(
          file,
          wells.filter((w) => w.plate === name),
          plate,
          `${name}: cells per well (${method})`,
        );
      }
    }
    if (!quiet) {
      log(
        `counted ${rows.length} images (${wells.length} wells) → ${out}${db ? `; run ${report.runId} in ${db}` : ''}`,
      );
    }
    return stageExitCode(report, log);
  } finally {
    await pool.close();
    store.close();
  }
}

export const command: Command = {
  name: 'count',
  summary: 'count cells (watershed or density) in images, plates or slides; train the density counter',
  usage: USAGE,
  async run(argv) {
    if (argv[0] === 'train') return train(argv.slice(1));
    return count(argv);
  },
};
