/**
 * Routes for overlays from the store: patch heatmaps, cells by viewport box, top attention with the saliency
 * of the run's patch classifier on those patches (saliency.ts), plates.
 */

import { VIRIDIS_ANCHORS } from '../../pipeline/imaging/viridis.ts';
import { plateQc } from '../../pipeline/store/plate-qc-queries.ts';
import {
  cellDensity,
  cellsInBox,
  listPlateRuns,
  type PatchValue,
  patchAt,
  patchValues,
  plateWells,
  topAttention,
} from '../../pipeline/store/viewer-queries.ts';
import { type HeatmapGrid, heatmapGrid, heatmapPng, MAX_HEATMAP_SIDE } from './heatmap.ts';
import { HttpError, parseCoord, queryInt, sendBody, sendJson } from './http.ts';
import {
  clientOf,
  type Handler,
  ID,
  type Request,
  type RouteContext,
  RUN,
  requireRow,
  requireRun,
  requireSlide,
} from './route-kit.ts';
import type { SaliencyMap } from './saliency.ts';

function patchValueOf(q: URLSearchParams): PatchValue {
  const v = q.get('value') ?? 'score';
  if (v !== 'score' && v !== 'attention')
    throw new HttpError(400, "query 'value' must be score or attention");
  return v;
}

function buildHeatmap(ctx: RouteContext, r: Request) {
  const runId = requireRun(ctx, r.match[1]);
  requireRow(ctx, r.match[2]);
  const value = patchValueOf(r.query);
  const cells = patchValues(ctx.store, runId, r.match[2], value);
  // Scores are probabilities: a fixed [0, 1] scale keeps runs comparable (range=data stretches the
  // colours over the values present, for weak models). Attention is shown over its own range.
  const stretch = r.query.get('range') ?? 'fixed';
  if (stretch !== 'fixed' && stretch !== 'data')
    throw new HttpError(400, "query 'range' must be fixed or data");
  const grid = heatmapGrid(cells, value === 'score' ? { lo: 0, hi: 1 } : undefined);
  if (grid && (value === 'attention' || stretch === 'data')) {
    grid.lo = stretch === 'data' ? grid.min : Math.min(0, grid.min);
    grid.hi = grid.max > grid.lo ? grid.max : grid.lo + 1;
  }
  if (!grid) throw new HttpError(404, 'this run has no such values on this slide');
  if (grid.columns > MAX_HEATMAP_SIDE || grid.rows > MAX_HEATMAP_SIDE) {
    throw new HttpError(422, `patch grid ${grid.columns}×${grid.rows} is too large or not regular`);
  }
  return { cells, grid, value };
}

function heatmapJson(grid: HeatmapGrid, value: PatchValue) {
  return { value, ...grid, colormap: 'viridis', stops: VIRIDIS_ANCHORS };
}

/** A level-0 viewport box from the query (x0, y0, x1, y1). */
function boxOf(q: URLSearchParams) {
  const box = {
    x0: parseCoord(q.get('x0'), 'x0'),
    y0: parseCoord(q.get('y0'), 'y0'),
    x1: parseCoord(q.get('x1'), 'x1'),
    y1: parseCoord(q.get('y1'), 'y1'),
  };
  if (box.x1 < box.x0 || box.y1 < box.y0) throw new HttpError(400, 'box has x1 < x0 or y1 < y0');
  return box;
}

export const OVERLAY_ROUTES: [RegExp, Handler][] = [
  [
    new RegExp(`^/api/runs/${RUN}/slides/${ID}/heatmap\\.json$`),
    (ctx, r) => {
      const { grid, value } = buildHeatmap(ctx, r);
      sendJson(r.res, 200, heatmapJson(grid, value));
    },
  ],
  [
    new RegExp(`^/api/runs/${RUN}/slides/${ID}/heatmap\\.png$`),
    async (ctx, r) => {
      const { cells, grid } = buildHeatmap(ctx, r);
      sendBody(r.req, r.res, await heatmapPng(cells, grid), { contentType: 'image/png' });
    },
  ],
  [
    new RegExp(`^/api/runs/${RUN}/slides/${ID}/cells$`),
    (ctx, r) => {
      const runId = requireRun(ctx, r.match[1]);
      const row = requireRow(ctx, r.match[2]);
      const box = boxOf(r.query);
      const limit = queryInt(r.query, 'limit', 1, 50_000, 5000);
      const { total, cells } = cellsInBox(ctx.store, runId, row.id, box, limit);
      sendJson(r.res, 200, { total, truncated: total > cells.length, cells });
    },
  ],
  [
    new RegExp(`^/api/runs/${RUN}/slides/${ID}/cell-density$`),
    (ctx, r) => {
      const runId = requireRun(ctx, r.match[1]);
      const row = requireRow(ctx, r.match[2]);
      const box = boxOf(r.query);
      const cols = queryInt(r.query, 'cols', 1, 512, 64);
      const rows = queryInt(r.query, 'rows', 1, 512, 64);
      sendJson(r.res, 200, { ...box, ...cellDensity(ctx.store, runId, row.id, box, cols, rows) });
    },
  ],
  [
    new RegExp(`^/api/runs/${RUN}/slides/${ID}/top-attention$`),
    (ctx, r) => {
      const runId = requireRun(ctx, r.match[1]);
      const row = requireRow(ctx, r.match[2]);
      const k = queryInt(r.query, 'k', 1, 200, 12);
      sendJson(r.res, 200, topAttention(ctx.store, runId, row.id, k));
    },
  ],
  [
    // Saliency of the run's patch classifier on one of the run's stored patches (by its level-0 origin).
    new RegExp(`^/api/runs/${RUN}/slides/${ID}/saliency-(gradient|gradcam)\\.png$`),
    async (ctx, r) => {
      const runId = requireRun(ctx, r.match[1]);
      const row = requireRow(ctx, r.match[2]);
      const patch = patchAt(
        ctx.store,
        runId,
        row.id,
        parseCoord(r.query.get('x'), 'x'),
        parseCoord(r.query.get('y'), 'y'),
      );
      if (!patch) throw new HttpError(404, 'this run has no patch there on this slide');
      const size = queryInt(r.query, 'size', 16, 512, 160);
      const img = await ctx.saliency.render(
        runId,
        row.id,
        () => requireSlide(ctx, row.id),
        patch,
        r.match[3] as SaliencyMap,
        size,
        clientOf(r),
      );
      sendBody(r.req, r.res, img.png, {
        contentType: 'image/png',
        extraHeaders: { 'X-Patch-Score': img.score.toFixed(4) },
      });
    },
  ],
  [/^\/api\/plates$/, (ctx, r) => sendJson(r.res, 200, listPlateRuns(ctx.store))],
  [
    new RegExp(`^/api/runs/${RUN}/wells$`),
    (ctx, r) => {
      const runId = requireRun(ctx, r.match[1]);
      const plate = r.query.get('plate');
      if (!plate || plate.length > 200) throw new HttpError(400, "query 'plate' is required");
      const wells = plateWells(ctx.store, runId, plate);
      if (wells.length === 0) throw new HttpError(404, 'this run has no wells on that plate');
      // 96-well plates are 8×12; anything beyond row H or column 12 means a 384-well (16×24) plate.
      const big = wells.some((w) => w.row >= 8 || w.col >= 12);
      sendJson(r.res, 200, {
        runId,
        plate,
        rows: big ? 16 : 8,
        cols: big ? 24 : 12,
        min: Math.min(...wells.map((w) => w.count)),
        max: Math.max(...wells.map((w) => w.count)),
        stops: VIRIDIS_ANCHORS,
        wells,
        qc: plateQc(ctx.store, runId, plate), // issue 17: Z′, plate map, QC flags
      });
    },
  ],
];
