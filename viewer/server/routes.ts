/**
 * The viewer's routes. Each is a regular expression over the raw request path (already screened
 * by app.ts for traversal and encoding tricks) and a handler. Slide ids are looked up in the store
 * before anything is opened; numeric parts are bounded before use.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import sharp from 'sharp';
import { WsiError } from '../../pipeline/errors.ts';
import type { Slide } from '../../pipeline/slide/types.ts';
import type { Store } from '../../pipeline/store/db.ts';
import type { SlideRow } from '../../pipeline/store/slides.ts';
import {
  cellsInBox,
  listPlateRuns,
  listSlideRuns,
  type PatchValue,
  patchValues,
  plateImageSlides,
  plateWells,
  slideAnnotations,
  topAttention,
} from '../../pipeline/store/viewer-queries.ts';
import { VIRIDIS_CSS_STOPS } from './colormap.ts';
import { chooseSlideLevel, type DzGeometry, dziXml, dzMaxLevel } from './deepzoom.ts';
import { type HeatmapGrid, heatmapGrid, heatmapPng, MAX_HEATMAP_SIDE } from './heatmap.ts';
import { HttpError, parseCoord, parseIndex, queryInt, sendBody, sendJson } from './http.ts';
import type { SlideRegistry } from './registry.ts';
import type { StaticFiles } from './static.ts';
import { encodeRgb, type TileFormat, type TileRenderer } from './tiles.ts';

export interface RouteContext {
  store: Store;
  slides: SlideRegistry;
  tiles: TileRenderer;
  files: StaticFiles;
  tileFormat: TileFormat;
  geometry: DzGeometry;
  quality: number;
  /** Encoded list-page thumbnails by slide id (small; bounded by the number of slides shown). */
  thumbnails: Map<string, Promise<Buffer>>;
}

export interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  match: RegExpExecArray;
  query: URLSearchParams;
}

type Handler = (ctx: RouteContext, r: Request) => Promise<void> | void;

const ID = '([A-Za-z0-9_-]{1,128})';
const RUN = '(\\d{1,9})';
const TILE_CACHE = 'public, max-age=31536000, immutable';
/** Largest region a crop route reads, in pixels of the level it reads from. */
const MAX_CROP_READ = 2048 * 2048;

/** Fairness key for the render semaphore: the client's address. */
function clientOf(r: Request): string {
  return r.req.socket.remoteAddress ?? '';
}

function slideJson(s: SlideRow) {
  return {
    id: s.id,
    name: s.name,
    width: s.width,
    height: s.height,
    mpp: s.mppX,
    mppX: s.mppX,
    mppY: s.mppY,
    objectivePower: s.objectivePower,
    format: s.format,
    vendor: s.vendor,
    levels: s.levels.map((l) => ({ width: l.width, height: l.height, downsample: l.downsample })),
    dzi: `/slides/${s.id}.dzi`,
  };
}

function requireRow(ctx: RouteContext, id: string): SlideRow {
  const row = ctx.slides.row(id);
  if (!row) throw new HttpError(404, 'unknown slide id');
  return row;
}

async function requireSlide(ctx: RouteContext, id: string): Promise<Slide> {
  const slide = await ctx.slides.open(id);
  if (!slide) throw new HttpError(404, 'unknown slide id');
  return slide;
}

function requireRun(ctx: RouteContext, runText: string): number {
  const runId = parseIndex(runText, 2 ** 31);
  const row =
    runId === undefined ? undefined : ctx.store.db.prepare('SELECT id FROM runs WHERE id = ?').get(runId);
  if (runId === undefined || !row) throw new HttpError(404, 'unknown run id');
  return runId;
}

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
  return { value, ...grid, colormap: 'viridis', stops: VIRIDIS_CSS_STOPS };
}

/** Region crop (attention gallery, patch previews): level-0 box → at most `size` px on its long side. */
async function cropRoute(ctx: RouteContext, r: Request): Promise<void> {
  const row = requireRow(ctx, r.match[1]);
  const x = parseCoord(r.query.get('x'), 'x');
  const y = parseCoord(r.query.get('y'), 'y');
  const w = parseCoord(r.query.get('w'), 'w');
  const h = parseCoord(r.query.get('h'), 'h');
  const size = queryInt(r.query, 'size', 16, 512, 192);
  if (w < 1 || h < 1 || x < 0 || y < 0 || x + w > row.width || y + h > row.height) {
    throw new HttpError(400, 'region must lie inside the slide');
  }
  const scale = Math.max(w, h) / size;
  const level = chooseSlideLevel(row.levels, Math.max(1, scale));
  const ds = row.levels[level].downsample;
  const readW = Math.max(1, Math.round(w / ds));
  const readH = Math.max(1, Math.round(h / ds));
  if (readW * readH > MAX_CROP_READ) throw new HttpError(400, 'region too large for a preview');
  const slide = await requireSlide(ctx, row.id);
  const outW = Math.max(1, Math.round(w / Math.max(1, scale)));
  const outH = Math.max(1, Math.round(h / Math.max(1, scale)));
  const body = await ctx.tiles.semaphore.run(async () => {
    const img = await slide.readRegion({
      x: Math.round(x),
      y: Math.round(y),
      width: readW,
      height: readH,
      level,
    });
    return encodeRgb(img.data, img.width, img.height, img.channels, {
      width: outW,
      height: outH,
      format: 'jpeg',
      quality: ctx.quality,
    });
  }, clientOf(r));
  sendBody(r.req, r.res, body, {
    contentType: 'image/jpeg',
    etag: `"${row.id}-crop-${x}-${y}-${w}-${h}-${size}-q${ctx.quality}"`,
    cacheControl: TILE_CACHE,
  });
}

async function thumbnailRoute(ctx: RouteContext, r: Request): Promise<void> {
  const row = requireRow(ctx, r.match[1]);
  const thumbnails = ctx.thumbnails;
  const key = row.id;
  let p = thumbnails.get(key);
  if (!p) {
    const slide = await requireSlide(ctx, row.id);
    p = ctx.tiles.semaphore.run(async () => {
      const img = await slide.thumbnail(320);
      return sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } })
        .jpeg({ quality: 82 })
        .toBuffer();
    }, clientOf(r));
    thumbnails.set(key, p);
    p.catch(() => thumbnails.delete(key));
    if (thumbnails.size > 512) thumbnails.delete(thumbnails.keys().next().value as string);
  }
  sendBody(r.req, r.res, await p, {
    contentType: 'image/jpeg',
    etag: `"${row.id}-thumb"`,
    cacheControl: TILE_CACHE,
  });
}

export const ROUTES: [RegExp, Handler][] = [
  [
    /^\/(?:index\.html)?$/,
    (ctx, r) => {
      const f = ctx.files.client('index.html')!;
      sendBody(r.req, r.res, f.body, {
        contentType: f.contentType,
        extraHeaders: {
          'Content-Security-Policy':
            "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'",
        },
      });
    },
  ],
  [
    /^\/assets\/(app\.js|app\.css)$/,
    (ctx, r) => {
      const f = ctx.files.client(r.match[1])!;
      sendBody(r.req, r.res, f.body, { contentType: f.contentType });
    },
  ],
  [
    /^\/assets\/osd\/([a-z_]{1,64}\.png)$/,
    (ctx, r) => {
      const f = ctx.files.osdImage(r.match[1]);
      if (!f) throw new HttpError(404, 'no such image');
      sendBody(r.req, r.res, f.body, { contentType: f.contentType, cacheControl: 'public, max-age=86400' });
    },
  ],
  [
    /^\/api\/slides$/,
    (ctx, r) => {
      const wells = plateImageSlides(ctx.store);
      sendJson(
        r.res,
        200,
        ctx.slides.list().map((s) => ({ ...slideJson(s), plateImage: wells.get(s.id) ?? null })),
      );
    },
  ],
  [
    new RegExp(`^/api/slides/${ID}$`),
    (ctx, r) => {
      const row = requireRow(ctx, r.match[1]);
      const annotations = ctx.store.db
        .prepare('SELECT COUNT(*) AS n FROM annotations WHERE slide_id = ?')
        .get(row.id) as { n: number };
      sendJson(r.res, 200, {
        ...slideJson(row),
        runs: listSlideRuns(ctx.store, row.id),
        annotations: annotations.n,
      });
    },
  ],
  [new RegExp(`^/api/slides/${ID}/thumbnail\\.jpeg$`), thumbnailRoute],
  [new RegExp(`^/api/slides/${ID}/region\\.jpeg$`), cropRoute],
  [
    new RegExp(`^/api/slides/${ID}/annotations$`),
    (ctx, r) => {
      const row = requireRow(ctx, r.match[1]);
      sendJson(r.res, 200, slideAnnotations(ctx.store, row.id));
    },
  ],
  [
    new RegExp(`^/slides/${ID}\\.dzi$`),
    (ctx, r) => {
      const row = requireRow(ctx, r.match[1]);
      sendBody(r.req, r.res, dziXml(row.width, row.height, ctx.tileFormat, ctx.geometry), {
        contentType: 'application/xml; charset=utf-8',
        etag: `"${row.id}-dzi-${ctx.tileFormat}-${ctx.geometry.tileSize}+${ctx.geometry.overlap}"`,
        cacheControl: TILE_CACHE,
      });
    },
  ],
  [
    new RegExp(`^/slides/${ID}_files/(\\d{1,3})/(\\d{1,7})_(\\d{1,7})\\.(jpeg|jpg|png)$`),
    async (ctx, r) => {
      const row = requireRow(ctx, r.match[1]);
      const level = Number(r.match[2]);
      const col = Number(r.match[3]);
      const rowIdx = Number(r.match[4]);
      const format: TileFormat = r.match[5] === 'png' ? 'png' : 'jpeg';
      if (level > dzMaxLevel(row.width, row.height)) throw new HttpError(404, 'no such tile level');
      const slide = await requireSlide(ctx, row.id);
      const body = await ctx.tiles.render(slide, level, col, rowIdx, format, clientOf(r));
      if (!body) throw new HttpError(404, 'no such tile');
      sendBody(r.req, r.res, body, {
        contentType: format === 'png' ? 'image/png' : 'image/jpeg',
        etag: ctx.tiles.etag(row.id, level, col, rowIdx, format),
        cacheControl: TILE_CACHE,
      });
    },
  ],
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
      const box = {
        x0: parseCoord(r.query.get('x0'), 'x0'),
        y0: parseCoord(r.query.get('y0'), 'y0'),
        x1: parseCoord(r.query.get('x1'), 'x1'),
        y1: parseCoord(r.query.get('y1'), 'y1'),
      };
      if (box.x1 < box.x0 || box.y1 < box.y0) throw new HttpError(400, 'box has x1 < x0 or y1 < y0');
      const limit = queryInt(r.query, 'limit', 1, 50_000, 5000);
      const { total, cells } = cellsInBox(ctx.store, runId, row.id, box, limit);
      sendJson(r.res, 200, { total, truncated: total > cells.length, cells });
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
        stops: VIRIDIS_CSS_STOPS,
        wells,
      });
    },
  ],
];

/** Errors from the reader for a registered slide: its file moved, or a read beyond what it has. */
export function statusOfReaderError(err: unknown): HttpError | undefined {
  if (!(err instanceof WsiError)) return undefined;
  if (err.code === 'SLIDE_NOT_FOUND') return new HttpError(404, 'slide file is no longer available');
  if (err.code === 'READ_RANGE') return new HttpError(400, err.message.split('\n')[0]);
  return new HttpError(500, `cannot read slide: ${err.code}`);
}
