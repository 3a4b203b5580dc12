/**
 * `wsi count <images|folder>...`: batch counting through the worker pool, CSV + plate heatmap, and with
 * --db everything in the store (images registered as slides, counts, cells, wells), resumable per image.
 * `wsi count <slide> --region|--tissue` is handled by slide-count.ts.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { createPool, defaultWorkerCount } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { QUEUE_FLAGS, queueFlagsOf } from '../queue/cli.ts';
import { taskExecutor } from '../queue/task-executor.ts';
import { openSlide } from '../slide/index.ts';
import {
  countsOfRun,
  deleteCells,
  insertCells,
  replaceWells,
  upsertCount,
} from '../store/counting-queries.ts';
import {
  beginRun,
  failRun,
  finishRun,
  isSlideDone,
  markSlideDone,
  openStore,
  type Store,
  upsertSlide,
} from '../store/index.ts';
import { type CellArrays, type CountImageTask, unpackCellArrays } from './count-image.ts';
import { type CountCsvRow, countsCsv } from './csv.ts';
import { DEFAULT_DENSITY_MODEL, loadDensityModel } from './density-io.ts';
import { writePlateHeatmap } from './heatmap.ts';
import {
  aggregateWells,
  compileWellPattern,
  type FieldCount,
  type PlateFormat,
  parseWell,
  plateName,
} from './plate.ts';
import { WATERSHED_PRESETS, type WatershedPreset } from './watershed-counter.ts';

const IMAGE = /\.(png|jpe?g|tiff?)$/i;
/** Ground-truth files that sit beside dataset images and are not images to count. */
const NOT_TO_COUNT = /(_dots|dots\.|_labels|_mask)/i;

/** Files named on the command line plus the images directly inside named folders, sorted, de-duplicated. */
export function expandInputs(inputs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const input of inputs) {
    if (!existsSync(input)) throw new ConfigError(`${input}: no such file or folder`);
    if (statSync(input).isDirectory()) {
      for (const f of readdirSync(input).sort()) {
        if (IMAGE.test(f) && !NOT_TO_COUNT.test(f)) out.add(path.resolve(input, f));
      }
    } else {
      out.add(path.resolve(input));
    }
  }
  if (out.size === 0) throw new ConfigError(`no images found in ${inputs.join(', ')}`);
  return [...out].sort();
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
  ...QUEUE_FLAGS,
} as const;

export async function runCount(argv: string[]): Promise<number> {
  const p = parseFlags(argv, FLAGS);
  if (p.positionals.length === 0)
    throw new ConfigError('give images, a folder or a slide to count (wsi count --help)');
  const method = stringFlag(p, 'method') ?? 'watershed';
  if (method !== 'watershed' && method !== 'density') {
    throw new ConfigError(`--method must be watershed or density, got '${method}'`);
  }
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
  const quiet = boolFlag(p, 'quiet');
  if (stringFlag(p, 'region') !== undefined || boolFlag(p, 'tissue')) {
    const { runSlideCount } = await import('./slide-count.ts');
    return runSlideCount({
      slide: p.positionals[0],
      region: stringFlag(p, 'region'),
      tissue: boolFlag(p, 'tissue'),
      db: stringFlag(p, 'db', true),
      tile: numberFlag(p, 'tile', { default: 1024, integer: true, min: 64, max: 8192 }),
      preset: preset === 'auto' ? 'brightfield' : preset,
      workers,
      quiet,
      queue: queueFlagsOf(p),
    });
  }
  const out = stringFlag(p, 'out', true);
  const plateFlag = numberFlag(p, 'plate', { default: 96, integer: true });
  if (plateFlag !== 96 && plateFlag !== 384)
    throw new ConfigError(`--plate must be 96 or 384, got ${plateFlag}`);
  const plate = plateFlag as PlateFormat;
  const patternSource = stringFlag(p, 'well-pattern');
  const pattern = patternSource ? compileWellPattern(patternSource) : undefined;
  let modelDir: string | undefined;
  if (method === 'density') {
    modelDir = path.resolve(stringFlag(p, 'model') ?? DEFAULT_DENSITY_MODEL);
    await loadDensityModel(modelDir).then((m) => m.model.dispose()); // fail fast, in one line, on a bad model
  } else if (stringFlag(p, 'model')) {
    throw new ConfigError('--model applies to --method density only');
  }
  const images = expandInputs(p.positionals);
  // Well ids are parsed (and out-of-plate wells refused) before any work starts.
  const positions = images.map((f) => {
    const w = parseWell(f, plate, pattern);
    return w ? { ...w, plate: plateName(f, pattern) } : undefined;
  });

  const config = {
    method,
    modelDir: modelDir ?? null,
    preset,
    plate,
    pattern: patternSource ?? null,
    images,
  };
  const db = stringFlag(p, 'db');
  const store: Store | undefined = db ? openStore(db) : undefined;
  const run = store ? beginRun(store, 'count', config) : undefined;
  const rows: (CountCsvRow | undefined)[] = new Array(images.length);
  const label = `count run ${run?.runId ?? '(no store)'}`;
  const pool = await taskExecutor(queueFlagsOf(p), { store, runId: run?.runId, label }, () =>
    createPool({ workers }),
  );
  const progress = createProgress({ total: images.length, label: 'count', unit: 'images', quiet });
  try {
    const previous = new Map(store && run ? countsOfRun(store, run.runId).map((r) => [r.slideId, r]) : []);
    let next = 0;
    const inFlight = Math.max(2, pool.size * 2);
    const worker = async (): Promise<void> => {
      while (next < images.length) {
        const i = next++;
        const file = images[i];
        const pos = positions[i];
        const base: Omit<CountCsvRow, 'count'> = {
          image: path.basename(file),
          plate: pos?.plate,
          well: pos?.well,
          row: pos?.row,
          col: pos?.col,
          field: pos?.field,
        };
        let slideId: string | undefined;
        if (store && run) {
          const slide = await openSlide(file);
          slideId = upsertSlide(store, slide);
          await slide.close();
          const done = previous.get(slideId);
          if (done && isSlideDone(store, run.runId, slideId)) {
            rows[i] = { ...base, count: done.count, meanArea: done.meanArea };
            progress.tick(1, 'resumed');
            continue;
          }
        }
        const task: CountImageTask = { path: file, method, modelDir, preset };
        const r = unpackCellArrays(await pool.run<Float64Array>('count-image', task));
        rows[i] = { ...base, count: r.count, meanArea: r.meanArea ?? undefined };
        if (store && run && slideId) writeImage(store, run.runId, slideId, rows[i]!, r);
        progress.tick(1);
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, images.length) }, worker));
    progress.done();
    const done = rows as CountCsvRow[];
    writeFileSync(out, countsCsv(done));
    const fields: FieldCount[] = done
      .filter((r) => r.well !== undefined)
      .map((r) => ({
        plate: r.plate!,
        well: r.well!,
        row: r.row!,
        col: r.col!,
        field: r.field ?? 1,
        count: r.count,
        meanArea: r.meanArea,
      }));
    const wells = aggregateWells(fields);
    if (wells.length > 0) {
      const plates = [...new Set(wells.map((w) => w.plate))];
      const heatmap = stringFlag(p, 'heatmap') ?? out.replace(/\.csv$/i, '') + '.heatmap.png';
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
    if (store && run) {
      replaceWells(store, run.runId, wells);
      finishRun(store, run.runId, {
        images: images.length,
        wells: wells.length,
        cells: done.reduce((s, r) => s + r.count, 0),
      });
    }
    if (!quiet) {
      process.stderr.write(
        `counted ${images.length} images (${wells.length} wells) → ${out}${store && run ? `; run ${run.runId} in ${db}` : ''}\n`,
      );
    }
    return 0;
  } catch (err) {
    if (store && run) failRun(store, run.runId, (err as Error).message);
    throw err;
  } finally {
    await pool.close();
    store?.close();
  }
}

/** One image's rows in one transaction with its done mark, so a crash never leaves half an image. */
function writeImage(store: Store, runId: number, slideId: string, row: CountCsvRow, r: CellArrays): void {
  store.db.transaction(() => {
    upsertCount(store, {
      runId,
      slideId,
      image: row.image,
      plate: row.plate,
      well: row.well,
      row: row.row,
      col: row.col,
      field: row.field,
      count: row.count,
      meanArea: row.meanArea,
    });
    deleteCells(store, runId, slideId);
    const cells = Array.from(r.xs, (x, k) => ({
      x,
      y: r.ys[k],
      area: Number.isNaN(r.areas[k]) ? undefined : r.areas[k],
    }));
    insertCells(store, runId, slideId, cells);
    markSlideDone(store, runId, slideId, cells.length);
  })();
}
