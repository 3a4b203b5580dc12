/** `wsi patches`: tissue → patch grid → labels → SQLite rows (+ patch images), resumable. */
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { expandSlidePaths } from '../io/slide-files.ts';
import { type PatchesConfig, readPatchesConfig } from '../patches/config.ts';
import type { PatchResolution } from '../patches/types.ts';
import { createPool, ownedPoolExecutor } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { QUEUE_FLAGS, QUEUE_USAGE, queueFlagsOf } from '../queue/cli.ts';
import { stageExecutor } from '../queue/task-executor.ts';
import { runStage, stageExitCode } from '../stage/index.ts';
import { patchesStage } from '../stages/patches.ts';
import { openStore } from '../store/db.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi patches <slides or folders> --db results.sqlite (--mpp 0.5 | --level L) --size 256
                   [--stride 256] [--min-tissue 0.5] [--assume-mpp M]
                   [--annotations DIR] [--centre-size 32] [--unannotated unknown|normal]
                   [--export DIR --format png|jpeg] [--quality 90]
                   [--workers N] [--batch 16] [--config run.json] [--quiet]

Finds the tissue of each slide, lays a grid of --size px patches at --mpp µm/px (or at pyramid
level --level) every --stride px, and keeps the patches whose tissue fraction is at least
--min-tissue. Rows go to the store (run kind 'patches'). With --annotations DIR, <slide>.xml (ASAP)
or <slide>.geojson labels each patch: 1 when its central --centre-size² pixels meet tumour outside
exclusion regions. With --export DIR, workers write DIR/<tumour|normal|unlabelled>/<slide>_<x>_<y>.png
and DIR/index.csv lists them. Slides without MPP need --assume-mpp or --level.

The same command continues an interrupted run (same settings → same run): slides already done are
skipped, patches already stored are not written again. A slide that fails (unreadable, no µm/px) is
recorded with its error and the others go on; the command then exits 1 naming it, and running it
again retries exactly the failed and unfinished slides (\`wsi runs\` lists them). --config run.json takes the same settings
as JSON (camelCase: minTissue, assumeMpp, centreSize, ...; schema in schemas/); flags win.
${QUEUE_USAGE}
`;

const OPTIONS = {
  db: { type: 'string' },
  mpp: { type: 'string' },
  level: { type: 'string' },
  size: { type: 'string' },
  stride: { type: 'string' },
  'min-tissue': { type: 'string' },
  'assume-mpp': { type: 'string' },
  annotations: { type: 'string' },
  'centre-size': { type: 'string' },
  unannotated: { type: 'string' },
  export: { type: 'string' },
  format: { type: 'string' },
  quality: { type: 'string' },
  workers: { type: 'string' },
  batch: { type: 'string' },
  config: { type: 'string' },
  quiet: { type: 'boolean' },
  ...QUEUE_FLAGS,
} as const;

export const command: Command = {
  name: 'patches',
  summary: 'cut slides into tissue patches at a µm/px: store rows, labels, optional images (resumable)',
  usage,
  async run(argv) {
    const p = parseFlags(argv, OPTIONS);
    const configPath = stringFlag(p, 'config');
    const c: PatchesConfig = configPath ? readPatchesConfig(configPath) : {};
    const num = (flag: string, fromConfig: number | undefined, rule: Parameters<typeof numberFlag>[2]) =>
      numberFlag(p, flag, rule) ?? fromConfig;
    const slides = p.positionals.length > 0 ? p.positionals : (c.slides ?? []);
    if (slides.length === 0) throw new ConfigError('give at least one slide file or folder');
    const db = stringFlag(p, 'db') ?? c.db;
    if (!db) throw new ConfigError('--db is required');
    const mpp = num('mpp', c.mpp, { min: 0.001, max: 1000 });
    const level = num('level', c.level, { integer: true, min: 0, max: 64 });
    if (mpp !== undefined && level !== undefined) throw new ConfigError('give --mpp or --level, not both');
    if (mpp === undefined && level === undefined) throw new ConfigError('give --mpp M (µm/px) or --level L');
    const resolution: PatchResolution = mpp !== undefined ? { mpp } : { level: level as number };
    const size = num('size', c.size, { integer: true, min: 1, max: 16_384 });
    if (size === undefined) throw new ConfigError('--size is required');
    const format = stringFlag(p, 'format') ?? c.format ?? 'png';
    if (format !== 'png' && format !== 'jpeg')
      throw new ConfigError(`--format must be png or jpeg, got '${format}'`);
    const unannotated = stringFlag(p, 'unannotated') ?? c.unannotated ?? 'unknown';
    if (unannotated !== 'unknown' && unannotated !== 'normal')
      throw new ConfigError(`--unannotated must be unknown or normal, got '${unannotated}'`);
    const exportDir = stringFlag(p, 'export') ?? c.export;
    if (!exportDir && stringFlag(p, 'format')) throw new ConfigError('--format needs --export DIR');
    const assumeMpp = num('assume-mpp', c.assumeMpp, { min: 0.001, max: 1000 });
    const stage = patchesStage({
      grid: {
        resolution,
        size,
        stride: num('stride', c.stride, { integer: true, min: 1, max: 16_384 }),
        minTissue: num('min-tissue', c.minTissue, { min: 0, max: 1 }),
      },
      assumeMpp,
      annotationsDir: stringFlag(p, 'annotations') ?? c.annotations,
      centreSize: num('centre-size', c.centreSize, { integer: true, min: 1, max: 16_384 }),
      unannotated,
      exportDir,
      format,
      quality: num('quality', c.quality, { integer: true, min: 1, max: 100 }),
      batch: num('batch', c.batch, { integer: true, min: 1, max: 4096 }),
      tissue: c.tissue,
    });
    const inputs = await expandSlidePaths(slides);
    const workers = num('workers', c.workers, { integer: true, min: 1, max: 256 });
    const queue = queueFlagsOf(p);
    const store = openStore(db);
    // Workers only write images: without --export every row comes from the main thread.
    const executor = exportDir
      ? await stageExecutor(queue, store, 'patches', () => ownedPoolExecutor(createPool({ workers })))
      : undefined;
    const progress = createProgress({
      total: 0,
      label: 'patches',
      unit: 'patches',
      quiet: boolFlag(p, 'quiet'),
    });
    try {
      const report = await runStage(stage, {
        store,
        executor,
        progress,
        inputs,
        assumeMpp,
      });
      const n = report.counts as { patches: number; tumour: number; normal: number; unknown: number };
      process.stdout.write(
        `run ${report.runId}${report.resumed ? ' (resumed)' : ''}: ${n.patches} patches from ${inputs.length} slide(s)` +
          ` (${n.tumour} tumour, ${n.normal} normal, ${n.unknown} unlabelled)` +
          `${exportDir ? `, images in ${exportDir}` : ''}\n`,
      );
      return stageExitCode(report, (line) => process.stderr.write(`${line}\n`));
    } finally {
      await executor?.close();
      store.close();
    }
  },
};
