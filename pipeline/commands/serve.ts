/**
 * `wsi serve`: registers the given slides in the store and serves the viewer (Deep Zoom tiles,
 * overlays from the store, the OpenSeadragon client) on 127.0.0.1 unless told otherwise.
 */
import { join } from 'node:path';
import { startViewer } from '../../viewer/server/app.ts';
import { numberFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError, WsiError } from '../errors.ts';
import { expandSlidePaths } from '../io/slide-files.ts';
import { openSlide } from '../slide/index.ts';
import { openStore } from '../store/db.ts';
import { upsertSlide } from '../store/slides.ts';
import type { Command } from './types.ts';

const SLIDE_CACHE_BYTES = 64 * 1024 * 1024;
const usage = `usage: wsi serve [--db results.sqlite] [--slides DIR|FILE ...] [--host 127.0.0.1] [--port 8080]
                 [--format jpeg|png] [--quality 80] [--tile-size 256] [--overlap 0]
                 [--cache-mb 128] [--renders 4]

Serves the slide viewer. Slides given with --slides (files, or directories of slide files) are
registered in the store; slides already in the store are served too. Only registered slides are
served, by id; label and macro images never are.

  --db FILE       SQLite store (created if missing; default results.sqlite)
  --slides PATH   slide file, directory of slides, or http(s) URL (repeatable)
  --host HOST     interface to bind (default 127.0.0.1: this machine only)
  --port N        port (default 8080; 0 picks a free one)
  --format F      Deep Zoom tile format: jpeg (default) or png
  --quality Q     JPEG quality 1-100 (default 80)
  --tile-size N   Deep Zoom tile size (default 256: one stored tile per DZ tile on 256-tiled slides)
  --overlap N     Deep Zoom tile overlap (default 0; OpenSlide's deepzoom uses 254 + 1)
  --cache-mb N    encoded-tile cache (default 128 MiB)
  --renders N     concurrent tile renders (default 4)`;

export const command: Command = {
  name: 'serve',
  summary: 'serve the slide viewer (Deep Zoom, heatmaps, cells, plates) over HTTP',
  usage,
  async run(argv) {
    const p = parseFlags(
      argv,
      {
        db: { type: 'string' },
        slides: { type: 'string', multiple: true },
        host: { type: 'string' },
        port: { type: 'string' },
        format: { type: 'string' },
        quality: { type: 'string' },
        'cache-mb': { type: 'string' },
        'tile-size': { type: 'string' },
        overlap: { type: 'string' },
        renders: { type: 'string' },
      },
      false,
    );
    const dbPath = stringFlag(p, 'db') ?? 'results.sqlite';
    const host = stringFlag(p, 'host') ?? '127.0.0.1';
    const port = numberFlag(p, 'port', { integer: true, min: 0, max: 65535, default: 8080 });
    const format = stringFlag(p, 'format') ?? 'jpeg';
    if (format !== 'jpeg' && format !== 'png')
      throw new ConfigError(`--format must be jpeg or png, got '${format}'`);
    const quality = numberFlag(p, 'quality', { integer: true, min: 1, max: 100, default: 80 });
    const cacheMb = numberFlag(p, 'cache-mb', { min: 0, max: 65536, default: 128 });
    const renders = numberFlag(p, 'renders', { integer: true, min: 1, max: 64, default: 4 });
    const tileSize = numberFlag(p, 'tile-size', { integer: true, min: 64, max: 2048, default: 256 });
    const overlap = numberFlag(p, 'overlap', { integer: true, min: 0, max: 8, default: 0 });
    const slidePaths = (p.values.slides as string[] | undefined) ?? [];
    const files = await expandSlidePaths(slidePaths, { what: '--slides', emptyFolder: 'skip' });

    const store = openStore(dbPath);
    let registered = 0;
    for (const file of files) {
      try {
        const slide = await openSlide(file);
        upsertSlide(store, slide);
        await slide.close();
        registered++;
      } catch (err) {
        // One unreadable file must not stop the others; say which and why.
        const why = err instanceof WsiError ? `${err.name}: ${err.message}` : (err as Error).message;
        process.stderr.write(`wsi serve: skipping ${join(file)}: ${why.split('\n')[0]}\n`);
      }
    }
    if (slidePaths.length > 0 && registered === 0 && files.length > 0) {
      process.stderr.write('wsi serve: none of the given files could be opened as a slide\n');
    }
    const viewer = await startViewer({
      store,
      // Each open slide keeps its own decoded-tile cache; up to 16 slides stay open, so keep each small.
      openSlide: (path) => openSlide(path, { cacheBytes: SLIDE_CACHE_BYTES }),
      host,
      port,
      tileFormat: format,
      geometry: { tileSize, overlap },
      quality,
      cacheBytes: cacheMb * 1024 * 1024,
      concurrency: renders,
    });
    const total = (store.db.prepare('SELECT COUNT(*) AS n FROM slides').get() as { n: number }).n;
    process.stdout.write(`wsi serve: ${total} slide(s) from ${dbPath}; open ${viewer.url}\n`);
    await new Promise<void>((resolveStop) => {
      const stop = () => resolveStop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await viewer.close();
    store.close();
    return 0;
  },
};
