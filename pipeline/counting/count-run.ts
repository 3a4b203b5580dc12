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
} from '../store/index.ts';
import { fieldQcOfRun, upsertFieldQc } from '../store/plate-qc-queries.ts';
// issue 17: auto method, plate layouts and channels, per-field QC and per-well results
import { parseCountMethod } from './auto-method.ts';
import { type CellArrays, unpackCellArrays } from './count-image.ts';
import {
  type FieldResultMessage,
  fieldColumns,
  fieldQcRow,
  fieldTask,
  methodSummary,
  resumedColumns,
  throughput,
} from './count-run-fields.ts';
import { type CountCsvRow, countsCsv } from './csv.ts';
import { DEFAULT_DENSITY_MODEL, loadDensityModel } from './density-io.ts';
import { registerField } from './field-slide.ts';
import { DEFAULT_HE_MODEL, loadHeModel } from './he-counter.ts';
import { writePlateHeatmap } from './heatmap.ts';
import { aggregateWells, compileWellPattern, type FieldCount, type PlateFormat } from './plate.ts';
import { planFields } from './plate-layout.ts';
import { finishPlateResults } from './plate-results.ts';
import { WATERSHED_PRESETS, type WatershedPreset } from './watershed-counter.ts';
import { readPlateMap } from './wells.ts';

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
  channel: { type: 'string' }, // issue 17
  'plate-map': { type: 'string' }, // issue 17
  'keep-flagged': { type: 'boolean' }, // issue 17
  'he-model': { type: 'string' }, // issue 17
  ...QUEUE_FLAGS,
} as const;

export async function runCount(argv: string[]): Promise<number> {
  const p = parseFlags(argv, FLAGS);
  if (p.positionals.length === 0)
    throw new ConfigError('give images, a folder or a slide to count (wsi count --help)');
  const method = parseCountMethod(stringFlag(p, 'method')); // issue 17
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
    // Slides go through the stage runner (pipeline/stages/count-slide.ts).
    const { countSlides } = await import('../stages/count-slide.ts');
    return countSlides({
      slides: p.positionals,
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
  } else if (method === 'auto') {
    modelDir = path.resolve(stringFlag(p, 'model') ?? DEFAULT_DENSITY_MODEL); // issue 17: loaded by a worker only if a fluorescence image comes
  } else if (stringFlag(p, 'model')) {
    throw new ConfigError('--model applies to --method density only');
  }
  // Well ids are parsed (and out-of-plate wells refused) before any work starts.
  // issue 17: instrument layouts, one channel per field (--channel), plate map, H&E counter file.
  const plan = planFields(expandInputs(p.positionals), { channel: stringFlag(p, 'channel'), plate, pattern });
  const images = plan.fields.map((f) => f.file);
  const positions = plan.fields.map((f) => f.position);
  const heModel =
    method === 'auto' || method === 'he-watershed'
      ? loadHeModel(stringFlag(p, 'he-model') ?? DEFAULT_HE_MODEL)
      : undefined;
  const plateMap = stringFlag(p, 'plate-map') ? readPlateMap(stringFlag(p, 'plate-map', true)) : undefined;

  const config = {
    method,
    modelDir: modelDir ?? null,
    preset,
    plate,
    pattern: patternSource ?? null,
    images,
    ...(plan.fields.some((f) => f.channel) ? { channel: plan.fields.map((f) => f.channel ?? null) } : {}), // issue 17
    ...(heModel ? { heModel: heModel.id } : {}), // issue 17
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
  const started = performance.now(); // issue 17: images/s in the summary
  try {
    const previous = new Map(store && run ? countsOfRun(store, run.runId).map((r) => [r.slideId, r]) : []);
    const previousQc = store && run ? fieldQcOfRun(store, run.runId) : new Map(); // issue 17
    const slideIds: (string | undefined)[] = new Array(images.length); // issue 17
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
          slideId = await registerField(store, file); // issue 17: also 16-bit / multi-channel TIFF fields
          slideIds[i] = slideId; // issue 17
          const done = previous.get(slideId);
          if (done && isSlideDone(store, run.runId, slideId)) {
            rows[i] = {
              ...base,
              count: done.count,
              meanArea: done.meanArea,
              ...resumedColumns(previousQc.get(slideId)),
            };
            progress.tick(1, 'resumed');
            continue;
          }
        }
        // issue 17: the field task picks the counter (auto), reads the channel and measures QC.
        const task = fieldTask(plan.fields[i], {
          method,
          modelDir,
          heModel: heModel ? stringFlag(p, 'he-model') : undefined,
          preset,
        });
        const f = await pool.run<FieldResultMessage>('count-field', task);
        const r = unpackCellArrays(f.cells);
        rows[i] = {
          ...base,
          count: r.count,
          meanArea: r.meanArea ?? undefined,
          ...fieldColumns(f, plan.fields[i]),
        };
        if (store && run && slideId) writeImage(store, run.runId, slideId, rows[i]!, r);
        progress.tick(1);
      }
    };
    await Promise.all(Array.from({ length: Math.min(inFlight, images.length) }, worker));
    progress.done();
    const done = rows as CountCsvRow[];
    // issue 17: QC flags, wells.csv (+ plates.csv, conditions.csv with a plate map), store tables.
    const plateResults = finishPlateResults(done, {
      out,
      plateMap,
      keepFlagged: boolFlag(p, 'keep-flagged'),
      store,
      runId: run?.runId,
      slideIds,
    });
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
      // issue 17: which counter ran, which channel, QC and per-well results.
      for (const line of [
        throughput(images.length, started),
        methodSummary(done),
        plan.note,
        ...plateResults.summary,
      ])
        if (line) process.stderr.write(`${line}\n`);
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
    const qc = fieldQcRow(slideId, row); // issue 17
    if (qc) upsertFieldQc(store, runId, qc); // issue 17
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
