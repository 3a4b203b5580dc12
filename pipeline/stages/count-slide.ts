/**
 * The `count` stage over slides: a level-0 region or the tissue (mask from pipeline/tissue), cut into
 * tiles that go to 'count-tile' tasks. Each tile is read with a margin so nuclei on tile edges are
 * segmented whole and keeps only the cells whose centroid lies in its core: every nucleus is counted once.
 * Cells go to the store (R*Tree indexed) as tiles finish; the slide's total goes with its done mark; an
 * interrupted slide's cells are cleared and it is redone.
 */
import path from 'node:path';
import { parseRegion, type Rect, tileGrid } from '../counting/slide-count.ts';
import { unpackTile } from '../counting/tile-count.ts';
import type { WatershedPreset } from '../counting/watershed-counter.ts';
import { ConfigError } from '../errors.ts';
import { expandSlidePaths } from '../io/slide-files.ts';
import { createPool, ownedPoolExecutor } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { type QueueFlags, stageExecutor } from '../queue/task-executor.ts';
import { stageExitCode } from '../stage/report.ts';
import { runStage } from '../stage/run-stage.ts';
import type { Stage } from '../stage/types.ts';
import { deleteCells, insertCells, upsertCount } from '../store/counting-queries.ts';
import { openStore } from '../store/db.ts';
import { detectTissue, tissueFraction } from '../tissue/index.ts';

export interface CountSlideOptions {
  /** x,y,w,h in level-0 pixels; otherwise the tissue. */
  region?: string;
  tile: number;
  preset: WatershedPreset;
  /** Tiles with less tissue than this fraction are skipped (tissue mode, default 0.05). */
  minTissue?: number;
  /** Extra level-0 pixels read around each tile (default 32). */
  margin?: number;
}

interface SlideCountState {
  total: number;
  areaSum: number;
}

export function countSlideStage(o: CountSlideOptions): Stage<SlideCountState, 'count-tile'> {
  const minTissue = o.minTissue ?? 0.05;
  const margin = o.margin ?? 32;
  return {
    kind: 'count',
    taskKind: 'count-tile',
    unit: 'tiles',
    identity: () => ({
      config: {
        region: o.region ?? null,
        tissue: o.region === undefined,
        minTissue: o.region === undefined ? minTissue : null,
        tile: o.tile,
        margin,
        preset: o.preset,
      },
    }),
    clear(ctx, s) {
      deleteCells(ctx.store, ctx.runId, s.id);
    },
    async plan(_ctx, s) {
      const slide = s.slide!;
      let tiles: Rect[];
      if (o.region !== undefined) tiles = tileGrid(parseRegion(o.region, slide.width, slide.height), o.tile);
      else {
        const mask = await detectTissue(slide);
        tiles = tileGrid({ x: 0, y: 0, width: slide.width, height: slide.height }, o.tile).filter(
          (t) => tissueFraction(mask, t) >= minTissue,
        );
      }
      return {
        state: { total: 0, areaSum: 0 },
        tasks: tiles.map((core) => ({
          units: 1,
          payload: { path: slide.source, core, margin, preset: o.preset },
        })),
      };
    },
    onResult(ctx, s, state, _i, packed) {
      const r = unpackTile(packed);
      insertCells(
        ctx.store,
        ctx.runId,
        s.id,
        Array.from(r.xs, (x, k) => ({ x, y: r.ys[k], area: r.areas[k] })),
      );
      state.total += r.xs.length;
      for (const a of r.areas) state.areaSum += a;
    },
    finish(ctx, s, state) {
      upsertCount(ctx.store, {
        runId: ctx.runId,
        slideId: s.id,
        image: path.basename(s.source),
        count: state.total,
        meanArea: state.total ? state.areaSum / state.total : undefined,
      });
      return state.total;
    },
  };
}

/** `wsi count <slides> --region|--tissue --db FILE`: the stage with its store, pool and progress bar. */
export async function countSlides(o: {
  slides: string[];
  region?: string;
  tissue: boolean;
  db: string;
  tile: number;
  preset: WatershedPreset;
  workers: number;
  quiet: boolean;
  /** Count tiles on the queue (--queue) instead of the local pool. */
  queue?: QueueFlags;
}): Promise<number> {
  if (o.region !== undefined && o.tissue) throw new ConfigError('give --region or --tissue, not both');
  const stage = countSlideStage({ region: o.region, tile: o.tile, preset: o.preset });
  const inputs = expandSlidePaths(o.slides);
  const store = openStore(o.db);
  const executor = await stageExecutor(o.queue, store, 'count slide', () =>
    ownedPoolExecutor(createPool({ workers: o.workers })),
  );
  const progress = createProgress({ total: 0, label: 'count slide', unit: 'tiles', quiet: o.quiet });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  try {
    const report = await runStage(stage, { store, executor, progress, inputs });
    const total = report.slides.reduce((n, s) => n + (s.items ?? 0), 0);
    if (!o.quiet) log(`counted ${total} nuclei; run ${report.runId} in ${o.db}`);
    return stageExitCode(report, log);
  } finally {
    await executor.close();
    store.close();
  }
}
