/**
 * The `count` stage over images (a plate, a folder, a dataset): one 'count-image' task per image; an
 * image's count, plate position and cells are written with its done mark. After the last image the wells
 * are recomputed from all the run's counts. The run is keyed by the settings, the density model's content
 * and the image names (not their folder).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import type { CellArrays } from '../counting/count-image.ts';
import { unpackCellArrays } from '../counting/count-image.ts';
import {
  aggregateWells,
  type FieldCount,
  type PlateFormat,
  parseWell,
  plateName,
} from '../counting/plate.ts';
import type { WatershedPreset } from '../counting/watershed-counter.ts';
import { ConfigError } from '../errors.ts';
import { modelContentHash } from '../stage/identity.ts';
import type { Stage } from '../stage/types.ts';
import {
  countsOfRun,
  deleteCells,
  insertCells,
  replaceWells,
  upsertCount,
} from '../store/counting-queries.ts';

const IMAGE = /\.(png|jpe?g|tiff?)$/i;
/** Ground-truth files that sit beside dataset images and are not images to count. */
const NOT_TO_COUNT = /(_dots|dots\.|_labels|_mask)/i;

/** Files named on the command line plus the images directly inside named folders, sorted, de-duplicated. */
export function expandImageInputs(inputs: readonly string[]): string[] {
  const out = new Set<string>();
  for (const input of inputs) {
    if (!existsSync(input)) throw new ConfigError(`${input}: no such file or folder`);
    if (statSync(input).isDirectory()) {
      for (const f of readdirSync(input).sort()) {
        if (IMAGE.test(f) && !NOT_TO_COUNT.test(f)) out.add(path.resolve(input, f));
      }
    } else out.add(path.resolve(input));
  }
  if (out.size === 0) throw new ConfigError(`no images found in ${inputs.join(', ')}`);
  return [...out].sort();
}

export interface CountImagesOptions {
  images: readonly string[];
  method: 'watershed' | 'density';
  modelDir?: string;
  preset: WatershedPreset | 'auto';
  plate: PlateFormat;
  /** Source of a custom well pattern (named groups), kept in the run's identity. */
  pattern?: string;
  compiledPattern?: RegExp;
}

interface ImageState {
  image: string;
  position?: ReturnType<typeof parseWell> & { plate: string };
}

export function countImagesStage(o: CountImagesOptions): Stage<ImageState, 'count-image'> {
  // Well ids are parsed (and out-of-plate wells refused) before any work starts.
  const positions = new Map(
    o.images.map((f) => {
      const w = parseWell(f, o.plate, o.compiledPattern);
      return [f, w ? { ...w, plate: plateName(f, o.compiledPattern) } : undefined] as const;
    }),
  );
  return {
    kind: 'count',
    taskKind: 'count-image',
    unit: 'images',
    identity: () => ({
      config: {
        method: o.method,
        model: o.modelDir ? modelContentHash(o.modelDir) : null,
        preset: o.preset,
        plate: o.plate,
        pattern: o.pattern ?? null,
        images: o.images.map((f) => path.basename(f)),
      },
    }),
    clear(ctx, s) {
      deleteCells(ctx.store, ctx.runId, s.id);
    },
    async plan(_ctx, s) {
      const state: ImageState = { image: path.basename(s.source), position: positions.get(s.source) };
      return {
        state,
        tasks: [
          { units: 1, payload: { path: s.source, method: o.method, modelDir: o.modelDir, preset: o.preset } },
        ],
      };
    },
    finish(ctx, s, state, [packed]) {
      const r: CellArrays = unpackCellArrays(packed);
      const pos = state.position;
      upsertCount(ctx.store, {
        runId: ctx.runId,
        slideId: s.id,
        image: state.image,
        plate: pos?.plate,
        well: pos?.well,
        row: pos?.row,
        col: pos?.col,
        field: pos?.field,
        count: r.count,
        meanArea: r.meanArea ?? undefined,
      });
      const cells = Array.from(r.xs, (x, k) => ({
        x,
        y: r.ys[k],
        area: Number.isNaN(r.areas[k]) ? undefined : r.areas[k],
      }));
      insertCells(ctx.store, ctx.runId, s.id, cells);
      return cells.length;
    },
    end(ctx) {
      const counts = countsOfRun(ctx.store, ctx.runId);
      const fields: FieldCount[] = counts.flatMap((r) =>
        r.well !== undefined && r.plate !== undefined && r.row !== undefined && r.col !== undefined
          ? [
              {
                plate: r.plate,
                well: r.well,
                row: r.row,
                col: r.col,
                field: r.field ?? 1,
                count: r.count,
                meanArea: r.meanArea,
              },
            ]
          : [],
      );
      const wells = aggregateWells(fields);
      replaceWells(ctx.store, ctx.runId, wells);
      return { images: counts.length, wells: wells.length, cells: counts.reduce((n, r) => n + r.count, 0) };
    },
  };
}
