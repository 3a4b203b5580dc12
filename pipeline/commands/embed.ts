/** `wsi embed <slides…> --model DIR --db FILE`: patch embeddings from a trained encoder into the store. */
import { statSync } from 'node:fs';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import type { EmbeddingDtype } from '../mil/embedding-codec.ts';
import { createPool, ownedPoolExecutor } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { QUEUE_FLAGS, QUEUE_USAGE, queueFlagsOf } from '../queue/cli.ts';
import { stageExecutor } from '../queue/task-executor.ts';
import { stageExitCode } from '../stage/report.ts';
import { embedSlides } from '../stages/embed.ts';
import { openStore } from '../store/db.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi embed <slide>... --model DIR --db FILE [options]

Runs an encoder over every tissue patch of each slide (the patches of the slide's newest 'patches' run,
else of its newest FCN 'infer' run, or of --patches-run) in the worker pool and stores one embedding per patch in patches.embedding of an
'embed' run. The encoder is the trained patch classifier cut at its 'features' layer (the last hidden
activation, spatially averaged) or at --layer. Resumable: running the same command again skips slides
already done and retries failed ones. The run is keyed by the encoder's content, not its folder.
  --model DIR         trained patch classifier directory (model.json + wsi-model.json)
  --db FILE           SQLite store
  --layer NAME        encoder output layer (default: features)
  --patches-run ID    take patch boxes from this run
  --dtype T           float32 (default) or float16 blobs
  --min-tissue F      skip patches with a tissue fraction below F (default 0)
  --spacing PX        keep one patch per PX × PX level-0 cell (thins a dense FCN 'infer' grid)
  --batch N           patches per worker task (default 16)
  --allow-untrained   accept a model without training metadata (random features: baselines only)
  --workers N         worker threads (default: cores)${QUEUE_USAGE}
`;

export const command: Command = {
  name: 'embed',
  summary: 'patch embeddings (encoder features) for attention-MIL, into the store',
  usage,
  async run(argv) {
    const p = parseFlags(argv, {
      model: { type: 'string' },
      db: { type: 'string' },
      layer: { type: 'string' },
      'patches-run': { type: 'string' },
      dtype: { type: 'string' },
      'min-tissue': { type: 'string' },
      batch: { type: 'string' },
      spacing: { type: 'string' },
      'allow-untrained': { type: 'boolean' },
      workers: { type: 'string' },
      ...QUEUE_FLAGS,
    });
    if (p.positionals.length === 0) throw new ConfigError('give at least one slide to embed');
    for (const s of p.positionals) {
      if (!/^https?:\/\//.test(s) && !statSync(s, { throwIfNoEntry: false })?.isFile()) {
        throw new ConfigError(`slide not found: ${s}`);
      }
    }
    const dtype = stringFlag(p, 'dtype') ?? 'float32';
    if (dtype !== 'float32' && dtype !== 'float16')
      throw new ConfigError(`--dtype must be float32 or float16, got '${dtype}'`);
    const options = {
      modelDir: stringFlag(p, 'model', true),
      layer: stringFlag(p, 'layer'),
      patchesRun: numberFlag(p, 'patches-run', { integer: true, min: 1 }),
      dtype: dtype as EmbeddingDtype,
      minTissue: numberFlag(p, 'min-tissue', { default: 0, min: 0, max: 1 }),
      batch: numberFlag(p, 'batch', { default: 16, integer: true, min: 1, max: 1024 }),
      spacing: numberFlag(p, 'spacing', { min: 1 }),
      allowUntrained: boolFlag(p, 'allow-untrained'),
    };
    const workers = numberFlag(p, 'workers', { integer: true, min: 1, max: 256 });
    const queue = queueFlagsOf(p);
    const store = openStore(stringFlag(p, 'db', true));
    const executor = await stageExecutor(queue, store, 'embed', () =>
      ownedPoolExecutor(createPool({ workers })),
    );
    const progress = createProgress({ total: 0, label: 'embed', unit: 'patches' });
    try {
      const s = await embedSlides(store, p.positionals, { ...options, executor, progress });
      process.stdout.write(
        `embed run ${s.runId}${s.resumed ? ' (resumed)' : ''}: ${s.slides} slides embedded, ${s.skipped} already done, ` +
          `${s.failed} failed, ${s.patches} patches, ${s.dim ?? '?'}-long ${options.dtype} vectors\n`,
      );
      return stageExitCode(s.report, (line) => process.stderr.write(`${line}\n`));
    } finally {
      await executor.close();
      store.close();
    }
  },
};
