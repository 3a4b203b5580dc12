/** Routes for slides: the page and its assets, the slide list and detail, Deep Zoom, thumbnails, crops, annotations. */
import sharp from 'sharp';
import type { SlideRow } from '../../pipeline/store/slides.ts';
import { listSlideRuns, oodFlagsBySlide, plateImageSlides } from '../../pipeline/store/viewer-queries.ts';
import { chooseSlideLevel, dziXml, dzMaxLevel } from './deepzoom.ts';
import { HttpError, parseCoord, queryInt, sendBody, sendJson } from './http.ts';
import {
  clientOf,
  type Handler,
  ID,
  type Request,
  type RouteContext,
  requireRow,
  requireSlide,
  TILE_CACHE,
} from './route-kit.ts';
import { encodeRgb, type TileFormat } from './tiles.ts';

/** Largest region a crop route reads, in pixels of the level it reads from. */
const MAX_CROP_READ = 2048 * 2048;

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

export const SLIDE_ROUTES: [RegExp, Handler][] = [
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
      // Out-of-distribution verdicts that fired, per run, for the list's warning badges.
      const ood = oodFlagsBySlide(ctx.store);
      sendJson(
        r.res,
        200,
        ctx.slides
          .list()
          .map((s) => ({ ...slideJson(s), plateImage: wells.get(s.id) ?? null, ood: ood.get(s.id) ?? [] })),
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
        // Saliency: whether the gallery can ask for a run's patch-classifier maps (saliency.ts).
        runs: listSlideRuns(ctx.store, row.id).map((run) => ({
          ...run,
          saliency: run.attended > 0 && ctx.saliency.available(run.runId),
        })),
        annotations: annotations.n,
      });
    },
  ],
  [new RegExp(`^/api/slides/${ID}/thumbnail\\.jpeg$`), thumbnailRoute],
  [new RegExp(`^/api/slides/${ID}/region\\.jpeg$`), cropRoute],
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
      const tile = await ctx.tiles.render(slide, level, col, rowIdx, format, clientOf(r));
      if (!tile) throw new HttpError(404, 'no such tile');
      sendBody(r.req, r.res, tile.body, {
        contentType: format === 'png' ? 'image/png' : 'image/jpeg',
        etag: ctx.tiles.etag(row.id, level, col, rowIdx, format),
        cacheControl: TILE_CACHE,
        // For debugging and tests: 'raw' when the stored JPEG bytes were sent unchanged.
        extraHeaders: { 'X-Tile-Source': tile.source },
      });
    },
  ],
];
