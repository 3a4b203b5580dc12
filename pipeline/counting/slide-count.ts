/**
 * Nuclei over a slide: a level-0 region or the tissue (mask from pipeline/tissue), cut into tiles that go
 * through the worker pool. Each tile is read with a margin so nuclei on tile edges are segmented whole,
 * and keeps only the cells whose centroid lies in its core: every nucleus is counted once. Cells go to the
 * store (R*Tree indexed) for the viewer; the slide's total goes to `counts`.
 */
import path from 'node:path';
import { ConfigError } from '../errors.ts';
import { createPool } from '../pool.ts';
import { createProgress } from '../progress.ts';
import { type QueueFlags, taskExecutor } from '../queue/task-executor.ts';
import { openSlide } from '../slide/index.ts';
import { insertCells, upsertCount } from '../store/counting-queries.ts';
import {
  beginRun,
  failRun,
  finishRun,
  isSlideDone,
  markSlideDone,
  openStore,
  upsertSlide,
} from '../store/index.ts';
import { detectTissue, tissueFraction } from '../tissue/index.ts';
import { type TileCountResult, type TileCountTask, unpackTile } from './tile-count.ts';
import type { WatershedPreset } from './watershed-counter.ts';

export interface SlideCountOptions {
  slide: string;
  region?: string;
  tissue: boolean;
  db: string;
  tile: number;
  preset: WatershedPreset;
  workers: number;
  quiet: boolean;
  /** Tiles with less tissue than this fraction are skipped (--tissue). */
  minTissue?: number;
  /** Count tiles on the queue (--queue) instead of the local pool. */
  queue?: QueueFlags;
}

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function parseRegion(s: string, width: number, height: number): Rect {
  const parts = s.split(',').map((v) => Number(v.trim()));
  if (parts.length !== 4 || parts.some((v) => !Number.isInteger(v))) {
    throw new ConfigError(`--region must be x,y,w,h in level-0 pixels (integers), got '${s}'`);
  }
  const [x, y, w, h] = parts;
  if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > width || y + h > height) {
    throw new ConfigError(`--region ${s} is not inside the slide (${width}×${height})`);
  }
  return { x, y, width: w, height: h };
}

/** Tiles of `tile`² covering a rectangle (edge tiles cropped). */
export function tileGrid(r: Rect, tile: number): Rect[] {
  const out: Rect[] = [];
  for (let y = r.y; y < r.y + r.height; y += tile) {
    for (let x = r.x; x < r.x + r.width; x += tile) {
      out.push({
        x,
        y,
        width: Math.min(tile, r.x + r.width - x),
        height: Math.min(tile, r.y + r.height - y),
      });
    }
  }
  return out;
}

export async function runSlideCount(o: SlideCountOptions): Promise<number> {
  if (o.region !== undefined && o.tissue) throw new ConfigError('give --region or --tissue, not both');
  const slidePath = path.resolve(o.slide);
  const slide = await openSlide(slidePath);
  let tiles: Rect[];
  try {
    if (o.region !== undefined) {
      tiles = tileGrid(parseRegion(o.region, slide.width, slide.height), o.tile);
    } else {
      const mask = await detectTissue(slide);
      tiles = tileGrid({ x: 0, y: 0, width: slide.width, height: slide.height }, o.tile).filter(
        (t) => tissueFraction(mask, t) >= (o.minTissue ?? 0.05),
      );
    }
  } finally {
    await slide.close();
  }
  const store = openStore(o.db);
  const slideId = upsertSlide(store, slide);
  const config = {
    slide: slideId,
    region: o.region ?? null,
    tissue: o.tissue,
    tile: o.tile,
    preset: o.preset,
  };
  const { runId, resumed } = beginRun(store, 'count', config);
  const pool = await taskExecutor(o.queue, { store, runId, label: `count run ${runId}` }, () =>
    createPool({ workers: o.workers }),
  );
  const progress = createProgress({
    total: tiles.length,
    label: 'count slide',
    unit: 'tiles',
    quiet: o.quiet,
  });
  try {
    if (resumed && isSlideDone(store, runId, slideId)) {
      progress.done('already done (resumed run)');
      finishRun(store, runId);
      return 0;
    }
    let total = 0;
    let areaSum = 0;
    const insert = store.db.transaction((r: TileCountResult) => {
      const cells = Array.from(r.xs, (x, k) => ({ x, y: r.ys[k], area: r.areas[k] }));
      insertCells(store, runId, slideId, cells);
    });
    await Promise.all(
      tiles.map(async (t) => {
        const task: TileCountTask = { path: slidePath, core: t, margin: 32, preset: o.preset };
        const r = unpackTile(await pool.run<Float32Array>('count-tile', task));
        insert(r);
        total += r.xs.length;
        for (const a of r.areas) areaSum += a;
        progress.tick(1, `${total} cells`);
      }),
    );
    store.db.transaction(() => {
      upsertCount(store, {
        runId,
        slideId,
        image: path.basename(slidePath),
        count: total,
        meanArea: total ? areaSum / total : undefined,
      });
      markSlideDone(store, runId, slideId, total);
    })();
    finishRun(store, runId, { tiles: tiles.length, cells: total });
    progress.done(`${total} cells`);
    if (!o.quiet)
      process.stderr.write(`counted ${total} nuclei in ${tiles.length} tiles; run ${runId} in ${o.db}\n`);
    return 0;
  } catch (err) {
    failRun(store, runId, (err as Error).message);
    throw err;
  } finally {
    await pool.close();
    store.close();
  }
}
