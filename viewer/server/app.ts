/**
 * The viewer's HTTP server: request screening (methods, path characters, traversal in any
 * encoding), dispatch to routes.ts, and error containment so no request can crash the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../../pipeline/store/db.ts';
import { buildClient } from './build.ts';
import { DEFAULT_GEOMETRY, type DzGeometry } from './deepzoom.ts';
import { HttpError, sendError } from './http.ts';
import { createSlideRegistry, type SlideOpener, type SlideRegistry } from './registry.ts';
import { ROUTES, type RouteContext, statusOfReaderError } from './routes.ts';
import { handleAnnotationWrite, isWritePath } from './routes-annotations.ts';
import { createSaliencyService } from './saliency.ts';
import { QueueFullError } from './semaphore.ts';
import { loadStaticFiles } from './static.ts';
import { createTileRenderer, type TileFormat, type TileRenderer } from './tiles.ts';

export interface ViewerOptions {
  store: Store;
  openSlide: SlideOpener;
  tileFormat?: TileFormat;
  /** Deep Zoom tile size and overlap (default 256 + 0). */
  geometry?: DzGeometry;
  quality?: number;
  cacheBytes?: number;
  /** Concurrent tile renders (default 4). */
  concurrency?: number;
  /** Tile renders allowed to wait before the server answers 503 (default 256). */
  maxQueue?: number;
  /** Called with one line per unexpected server error (default: stderr). */
  log?: (line: string) => void;
}

export interface Viewer {
  server: Server;
  slides: SlideRegistry;
  tiles: TileRenderer;
  close(): Promise<void>;
}

export interface RunningViewer extends Viewer {
  url: string;
  port: number;
}

const MAX_URL = 2048;
/** Characters our routes use. Anything else (%, \, spaces, unicode) cannot name a route. */
const PATH_CHARS = /^\/[A-Za-z0-9_.\-/]*$/;

/** Returns the path and query, or throws HttpError for requests no route could accept. */
export function screenRequest(method: string | undefined, url: string | undefined) {
  if (!url || url.length > MAX_URL) throw new HttpError(400, 'bad or overlong URL');
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  // Traversal in any spelling is refused outright, before routing: '..', '%2e%2e', encoded
  // slashes and backslashes, NUL, double slashes.
  if (/\.\.|%2e|%2f|%5c|%00|\\|\/\//i.test(path)) throw new HttpError(400, 'path traversal refused');
  if (!PATH_CHARS.test(path)) throw new HttpError(404, 'not found');
  // Writes only to annotation paths (routes-annotations.ts); everything else is GET/HEAD.
  if (method !== 'GET' && method !== 'HEAD' && !isWritePath(String(method), path))
    throw new HttpError(405, 'only GET and HEAD are allowed here');
  let query: URLSearchParams;
  try {
    query = new URLSearchParams(rawQuery);
  } catch {
    throw new HttpError(400, 'malformed query');
  }
  return { path, query };
}

async function createViewer(options: ViewerOptions): Promise<Viewer> {
  await buildClient();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const slides = createSlideRegistry(options.store, options.openSlide);
  const tiles = createTileRenderer({
    quality: options.quality ?? 80,
    cacheBytes: options.cacheBytes ?? 128 * 1024 * 1024,
    concurrency: options.concurrency ?? 4,
    maxQueue: options.maxQueue ?? 256,
    geometry: options.geometry ?? DEFAULT_GEOMETRY,
  });
  const ctx: RouteContext = {
    store: options.store,
    slides,
    tiles,
    files: loadStaticFiles(),
    tileFormat: options.tileFormat ?? 'jpeg',
    geometry: options.geometry ?? DEFAULT_GEOMETRY,
    quality: options.quality ?? 80,
    thumbnails: new Map(),
    saliency: createSaliencyService({ store: options.store, semaphore: tiles.semaphore }),
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { path, query } = screenRequest(req.method, req.url);
    const method = String(req.method);
    if (isWritePath(method, path)) return handleAnnotationWrite(ctx, method, { req, res, query }, path);
    for (const [pattern, handler] of ROUTES) {
      const match = pattern.exec(path);
      if (match) {
        await handler(ctx, { req, res, match, query });
        return;
      }
    }
    throw new HttpError(404, 'not found');
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (err instanceof HttpError) return sendError(res, err.status, err.message);
      if (err instanceof QueueFullError) {
        res.setHeader('Retry-After', '1');
        return sendError(res, 503, 'server busy: too many tiles queued');
      }
      const mapped = statusOfReaderError(err);
      if (mapped && mapped.status < 500) return sendError(res, mapped.status, mapped.message);
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      log(`wsi serve: error on ${String(req.method)} ${String(req.url).slice(0, 200)}: ${message}`);
      sendError(res, 500, mapped?.message ?? 'internal error');
    });
  });
  // Unparseable HTTP (garbage bytes, bad headers): answer 400 and drop the connection.
  server.on('clientError', (_err, socket) => {
    if (socket.writable)
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;
  server.keepAliveTimeout = 5_000;

  return {
    server,
    slides,
    tiles,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      ctx.saliency.close();
      await slides.close();
    },
  };
}

/** Creates the viewer and listens; port 0 picks a free one. */
export async function startViewer(
  options: ViewerOptions & { host?: string; port?: number },
): Promise<RunningViewer> {
  const viewer = await createViewer(options);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    viewer.server.once('error', reject);
    viewer.server.listen(options.port ?? 8080, host, () => {
      viewer.server.off('error', reject);
      resolve();
    });
  });
  const port = (viewer.server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return { ...viewer, port, url: `http://${shownHost}:${port}/` };
}
