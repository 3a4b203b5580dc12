/** `wsi infer`: dense tumour-probability maps over whole slides with a fully convolutional patch classifier. */
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { createProgress } from '../progress.ts';
import { QUEUE_FLAGS, QUEUE_USAGE, queueFlagsOf } from '../queue/cli.ts';
import { queueStageExecutor } from '../queue/task-executor.ts';
import { stageExitCode } from '../stage/report.ts';
import { inferSlides } from '../stages/infer.ts';
import { openStore } from '../store/index.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi infer <slide>... --model DIR --db results.sqlite [--mpp M] [--assume-mpp M] [--workers N]
                 [--threads N] [--tile PX] [--min-tissue F] [--engine onnx|tfjs] [--allow-untrained] [--quiet]

Runs the patch classifier in DIR (model.json + weights.bin + wsi-model.json) over each slide's tissue as
a fully convolutional network and stores its score map in the run's patch rows (one per output-grid
point; x, y, width, height = the patch's level-0 footprint) and each slide's score (max; 99th
percentile in the details) in slide_results. Running the same command again resumes: finished slides
are skipped, failed and unfinished ones are redone. The run is keyed by the model's content, so a
model retrained into the same folder starts a new run and a moved model resumes its old one.

  --model DIR        model directory; refused without training metadata unless --allow-untrained
  --db FILE          SQLite store (created if missing)
  --mpp M            run the model at M µm/px instead of the µm/px it was trained at
  --assume-mpp M     level-0 µm/px for slides that do not record it
  --workers N        worker threads, each with its own single-threaded ONNX session (default 2);
                     0 runs one session on the main thread using --threads threads
  --threads N        onnxruntime threads per session (default 1 in workers, all cores with --workers 0)
  --tile PX          tile side in model pixels (default 1024)
  --min-tissue F     keep grid points whose patch is at least this tissue fraction (default 0.05)
  --engine E         onnx (default) or tfjs (reference implementation, main thread)
  --allow-untrained  accept a model without training metadata (its scores mean nothing)${QUEUE_USAGE}
`;

export const command: Command = {
  name: 'infer',
  summary: 'score whole slides with a fully convolutional patch classifier (ONNX), store heatmaps',
  usage,
  async run(argv) {
    const p = parseFlags(argv, {
      model: { type: 'string' },
      db: { type: 'string' },
      mpp: { type: 'string' },
      'assume-mpp': { type: 'string' },
      workers: { type: 'string' },
      threads: { type: 'string' },
      tile: { type: 'string' },
      'min-tissue': { type: 'string' },
      engine: { type: 'string' },
      'allow-untrained': { type: 'boolean' },
      quiet: { type: 'boolean' },
      ...QUEUE_FLAGS,
    });
    if (p.positionals.length === 0) throw new ConfigError('give at least one slide');
    const engine = stringFlag(p, 'engine') ?? 'onnx';
    if (engine !== 'onnx' && engine !== 'tfjs')
      throw new ConfigError(`--engine must be onnx or tfjs, got '${engine}'`);
    const modelDir = stringFlag(p, 'model', true);
    const dbPath = stringFlag(p, 'db', true);
    const options = {
      modelDir,
      slides: p.positionals,
      mpp: numberFlag(p, 'mpp', { min: 1e-3, max: 1000 }),
      assumeMpp: numberFlag(p, 'assume-mpp', { min: 1e-3, max: 1000 }),
      workers: numberFlag(p, 'workers', { integer: true, min: 0, max: 64, default: 2 }),
      threads: numberFlag(p, 'threads', { integer: true, min: 1, max: 256 }),
      tileInput: numberFlag(p, 'tile', { integer: true, min: 16, max: 16384 }),
      minTissue: numberFlag(p, 'min-tissue', { min: 0, max: 1 }),
      allowUntrained: boolFlag(p, 'allow-untrained'),
      engine: engine as 'onnx' | 'tfjs',
      quiet: boolFlag(p, 'quiet'),
    };
    const queue = queueFlagsOf(p);
    const store = openStore(dbPath);
    const progress = createProgress({ total: 0, label: 'infer', unit: 'tiles', quiet: options.quiet });
    const executor = queue ? await queueStageExecutor(queue, store, 'infer') : undefined;
    try {
      const summary = await inferSlides({ store, progress, executor, ...options });
      process.stdout.write(
        `run ${summary.runId}${summary.resumed ? ' (resumed)' : ''}, model ${summary.modelId}, ${summary.engine}\n`,
      );
      for (const s of summary.slides) {
        const detail =
          s.status === 'done'
            ? `${s.points} points from ${s.tilesRun}/${s.tiles} tiles, max ${s.max?.toFixed(4) ?? '-'}, p99 ${s.p99?.toFixed(4) ?? '-'}, ${s.seconds?.toFixed(1)} s`
            : s.status === 'skipped'
              ? 'already done'
              : s.error;
        process.stdout.write(`${s.source}: ${s.status}: ${detail}\n`);
        // Never a confident score without the warning.
        if (s.ood?.outOfDistribution)
          process.stdout.write(`${s.source}: WARNING out of distribution: ${s.ood.reason}\n`);
      }
      return stageExitCode(summary.report, (line) => process.stderr.write(`${line}\n`));
    } finally {
      await executor?.close();
      store.close();
    }
  },
};
