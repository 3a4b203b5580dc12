/**
 * `wsi count`: count cells in images (a plate or a dataset) or over a slide, or train the density counter.
 * Flags → options → the count stages (pipeline/stages/count-images.ts, count-slide.ts); this command owns
 * the store, the worker pool and the progress bar.
 */
import path from 'node:path';
import { boolFlag, numberFlag, type Parsed, parseFlags, stringFlag } from '../args.ts';
import type { WatershedPreset } from '../counting/watershed-counter.ts';
import { ConfigError } from '../errors.ts';
import { expandImagePaths, expandSlidePaths } from '../io/slide-files.ts';
import { createPool, defaultWorkerCount, ownedPoolExecutor } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { QUEUE_FLAGS, QUEUE_USAGE, queueFlagsOf } from '../queue/cli.ts';
import { stageExecutor } from '../queue/task-executor.ts';
import { runStage, stageExitCode } from '../stage/index.ts';
import { openStore } from '../store/db.ts';
import type { Command } from './types.ts';

const USAGE = `usage:
  wsi count <images|folder>... [--method auto|he-watershed|density|watershed] [--model DIR]
            [--he-model FILE.json] --out counts.csv [--db results.sqlite] [--plate 96|384]
            [--well-pattern REGEX] [--channel N|NAME] [--plate-map map.csv] [--keep-flagged]
            [--heatmap PNG] [--preset auto|fluorescence|brightfield] [--workers N] [--quiet]
            [--queue redis://HOST:PORT (with --db) [--attempts N] [--slide-base-url URL]]
  wsi count <slide> --region x,y,w,h | --tissue  --db results.sqlite [--method watershed] [--tile 1024] [--workers N]
            [--queue redis://HOST:PORT ...]
  wsi count train --images DIR (--dots DIR | --labels DIR) --out MODEL_DIR [--n 32] [--holdout 30]
            [--seed 1] [--steps 2500] [--sigma 2] [--crop 64] [--batch 8]
            [--normalisation dataset|image] [--no-calibration] [--quiet]
  wsi count train-he --images DOTS_DIR --labelled IMAGE.png [--labelled …] --out FILE.json
            [--f1-floor 0.838] [--name he-watershed] [--quiet]

--method auto (the default) picks the counter per image: brightfield H&E colour images → the shipped
H&E counter (models/he-watershed), dark-background colour images → the density model
(models/density-vgg), one channel of a plate → the watershed (fluorescence preset). Instrument names
(ImageXpress Plate_A01_s1_w1.tif, Operetta/Phenix r01c01f01p01-ch1sk1fk1fl1.tiff) are grouped per field
and one channel counted: --channel by 1-based number or by name from Plate.HTD / Index.idx.xml, else
the nuclear stain (DAPI, Hoechst…), else channel 1; for 16-bit or multi-page TIFF fields --channel
picks the page or sample. Plates also get counts.wells.csv (count per field, mean, SD, CV, QC flags:
out_of_focus, empty, saturated, outlier; flagged fields left out of the means unless --keep-flagged)
and, with --plate-map (well,condition,concentration,role), counts.plates.csv (Z′ per plate) and
counts.conditions.csv. train-he learns the H&E counter's watershed parameters (see models/he-watershed).
${QUEUE_USAGE}

Counting writes a CSV with columns image,plate,well,row,column,field,count,mean_area (plate columns are
empty for images whose names carry no well id) and, for plates, a heatmap PNG (default: next to the CSV).
With --db everything goes to the store (images as slides, counts, wells, cell centroids) and a re-run of
the same command resumes. An image that cannot be read is recorded with its error and the others are
counted; the command then exits 1 naming it (\`wsi runs\` lists it) and a re-run retries only it.
The density method uses models/density-vgg unless --model is given.
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
  channel: { type: 'string' },
  'plate-map': { type: 'string' },
  'keep-flagged': { type: 'boolean' },
  'he-model': { type: 'string' },
  ...QUEUE_FLAGS,
} as const;

const log = (line: string) => process.stderr.write(`${line}\n`);

/** `wsi count <images|folders|slides> ...` (not train): the exit code. */
export async function runCount(argv: string[]): Promise<number> {
  const p = parseFlags(argv, FLAGS);
  if (p.positionals.length === 0)
    throw new ConfigError('give images, a folder or a slide to count (wsi count --help)');
  const { WATERSHED_PRESETS } = await import('../counting/watershed-counter.ts');
  const preset = (stringFlag(p, 'preset') ?? 'auto') as WatershedPreset;
  if (preset !== 'auto' && !(preset in WATERSHED_PRESETS)) {
    throw new ConfigError(`--preset must be auto, fluorescence or brightfield, got '${preset}'`);
  }
  const workers = numberFlag(p, 'workers', {
    default: defaultWorkerCount(),
    integer: true,
    min: 1,
    max: 256,
  });
  if (stringFlag(p, 'region') !== undefined || boolFlag(p, 'tissue'))
    return countSlides(p, preset === 'auto' ? 'brightfield' : preset, workers);
  return countImages(p, preset, workers);
}

/** `wsi count <slides> --region|--tissue --db FILE`: the count-slide stage. */
async function countSlides(p: Parsed, preset: WatershedPreset, workers: number): Promise<number> {
  const region = stringFlag(p, 'region');
  if (region !== undefined && boolFlag(p, 'tissue'))
    throw new ConfigError('give --region or --tissue, not both');
  const db = stringFlag(p, 'db', true);
  const { countSlideStage } = await import('../stages/count-slide.ts');
  const stage = countSlideStage({
    region,
    tile: numberFlag(p, 'tile', { default: 1024, integer: true, min: 64, max: 8192 }),
    preset,
  });
  const inputs = await expandSlidePaths(p.positionals);
  const quiet = boolFlag(p, 'quiet');
  const store = openStore(db);
  const executor = await stageExecutor(queueFlagsOf(p), store, 'count slide', () =>
    ownedPoolExecutor(createPool({ workers })),
  );
  const progress = createProgress({ total: 0, label: 'count slide', unit: 'tiles', quiet });
  try {
    const report = await runStage(stage, { store, executor, progress, inputs });
    const total = report.slides.reduce((n, s) => n + (s.items ?? 0), 0);
    if (!quiet) log(`counted ${total} nuclei; run ${report.runId} in ${db}`);
    return stageExitCode(report, log);
  } finally {
    await executor.close();
    store.close();
  }
}

/** `wsi count <images|folders> --out counts.csv [--db FILE]`: the count-images stage. */
async function countImages(p: Parsed, preset: WatershedPreset, workers: number): Promise<number> {
  const [{ parseCountMethod }, { DEFAULT_DENSITY_MODEL, loadDensityModel }, he, plateMod, layout, wells] =
    await Promise.all([
      import('../counting/auto-method.ts'),
      import('../counting/density-io.ts'),
      import('../counting/he-counter.ts'),
      import('../counting/plate.ts'),
      import('../counting/plate-layout.ts'),
      import('../counting/wells.ts'),
    ]);
  const method = parseCountMethod(stringFlag(p, 'method'));
  const out = stringFlag(p, 'out', true);
  const plate = numberFlag(p, 'plate', { default: 96, integer: true });
  if (plate !== 96 && plate !== 384) throw new ConfigError(`--plate must be 96 or 384, got ${plate}`);
  const pattern = stringFlag(p, 'well-pattern');
  let modelDir: string | undefined;
  if (method === 'density' || method === 'auto') {
    modelDir = path.resolve(stringFlag(p, 'model') ?? DEFAULT_DENSITY_MODEL);
    // Fail fast, in one line, on a bad model (auto loads it in a worker only if a fluorescence image comes).
    if (method === 'density') await loadDensityModel(modelDir).then((m) => m.model.dispose());
  } else if (stringFlag(p, 'model')) {
    throw new ConfigError('--model applies to --method density only');
  }
  // Well ids are parsed (and out-of-plate wells refused), channels chosen, before any work starts.
  const plan = layout.planFields(expandImagePaths(p.positionals), {
    channel: stringFlag(p, 'channel'),
    plate,
    pattern: pattern ? plateMod.compileWellPattern(pattern) : undefined,
  });
  const heModelFile = stringFlag(p, 'he-model');
  const heModel =
    method === 'auto' || method === 'he-watershed'
      ? he.loadHeModel(heModelFile ?? he.DEFAULT_HE_MODEL)
      : undefined;
  const plateMapFile = stringFlag(p, 'plate-map');
  const plateMap = plateMapFile ? wells.readPlateMap(plateMapFile) : undefined;
  const [{ countImagesStage }, { methodSummary, throughput }] = await Promise.all([
    import('../stages/count-images.ts'),
    import('../counting/field-rows.ts'),
  ]);
  const stage = countImagesStage({
    plan,
    method,
    modelDir,
    heModel,
    heModelFile,
    preset,
    plate,
    pattern,
    plateMap,
    keepFlagged: boolFlag(p, 'keep-flagged'),
    out,
    heatmap: stringFlag(p, 'heatmap'),
  });
  // Without --db the rows live in a store in memory just long enough to write the CSV.
  const db = stringFlag(p, 'db');
  const queue = queueFlagsOf(p);
  // Queue jobs are keyed by the store file, so a queued count needs one.
  if (queue && !db) throw new ConfigError('--queue needs --db (the queue keys its jobs by the store)');
  const quiet = boolFlag(p, 'quiet');
  const store = openStore(db ?? ':memory:');
  const executor = await stageExecutor(queue, store, 'count', () =>
    ownedPoolExecutor(createPool({ workers })),
  );
  const progress = createProgress({ total: 0, label: 'count', unit: 'images', quiet });
  const started = performance.now();
  try {
    const report = await runStage(stage, {
      store,
      executor,
      progress,
      inputs: plan.fields.map((f) => f.file),
      // One task per image: images in flight, not slides open, set the parallelism.
      slidesAtOnce: Math.max(2, 2 * executor.size),
    });
    const result = stage.result!;
    if (!quiet) {
      log(
        `counted ${result.rows.length} images (${result.wells} wells) → ${out}${db ? `; run ${report.runId} in ${db}` : ''}`,
      );
      for (const line of [
        throughput(result.rows.length, started),
        result.rows.length ? methodSummary(result.rows) : undefined,
        plan.note,
        ...result.summary,
      ])
        if (line) log(line);
    }
    return stageExitCode(report, log);
  } finally {
    await executor.close();
    store.close();
  }
}

export const command: Command = {
  name: 'count',
  summary: 'count cells (watershed or density) in images, plates or slides; train the density counter',
  usage: USAGE,
  async run(argv) {
    if (argv[0] === 'train') return train(argv.slice(1));
    if (argv[0] === 'train-he')
      return (await import('../counting/he-train-run.ts')).runHeTraining(argv.slice(1)).then(() => 0); // issue 17
    return runCount(argv);
  },
};
