/**
 * What every route shares: the context (store, slide registry, tile renderer, static files), the
 * request shape, URL fragments for ids, and the lookups that turn ids into rows or 404s.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Slide } from '../../pipeline/slide/types.ts';
import type { Store } from '../../pipeline/store/db.ts';
import type { SlideRow } from '../../pipeline/store/slides.ts';
import type { DzGeometry } from './deepzoom.ts';
import { HttpError, parseIndex } from './http.ts';
import type { SlideRegistry } from './registry.ts';
import type { SaliencyService } from './saliency.ts';
import type { StaticFiles } from './static.ts';
import type { TileFormat, TileRenderer } from './tiles.ts';

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
  /** Saliency of a run's patch classifier on its patches, on demand (bounded caches). */
  saliency: SaliencyService;
}

export interface Request {
  req: IncomingMessage;
  res: ServerResponse;
  match: RegExpExecArray;
  query: URLSearchParams;
}

export type Handler = (ctx: RouteContext, r: Request) => Promise<void> | void;

export const ID = '([A-Za-z0-9_-]{1,128})';
export const RUN = '(\\d{1,9})';
export const TILE_CACHE = 'public, max-age=31536000, immutable';

/** Fairness key for the render semaphore: the client's address. */
export function clientOf(r: Request): string {
  return r.req.socket.remoteAddress ?? '';
}

export function requireRow(ctx: RouteContext, id: string): SlideRow {
  const row = ctx.slides.row(id);
  if (!row) throw new HttpError(404, 'unknown slide id');
  return row;
}

export async function requireSlide(ctx: RouteContext, id: string): Promise<Slide> {
  const slide = await ctx.slides.open(id);
  if (!slide) throw new HttpError(404, 'unknown slide id');
  return slide;
}

export function requireRun(ctx: RouteContext, runText: string): number {
  const runId = parseIndex(runText, 2 ** 31);
  const row =
    runId === undefined ? undefined : ctx.store.db.prepare('SELECT id FROM runs WHERE id = ?').get(runId);
  if (runId === undefined || !row) throw new HttpError(404, 'unknown run id');
  return runId;
}
