/**
 * Static files: the built client (fixed names in viewer/dist) and OpenSeadragon's navigation images
 * (names listed once from its package folder). Request paths are looked up in these lists and never
 * joined onto a directory, so no request can name another file.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { DIST_DIR, DIST_FILES } from './build.ts';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  png: 'image/png',
};

export interface StaticFile {
  body: Buffer;
  contentType: string;
}

export interface StaticFiles {
  client(name: string): StaticFile | undefined;
  osdImage(name: string): StaticFile | undefined;
}

function osdImagesDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('openseadragon')), 'images');
}

/** Loads the (small) client and image files into memory once. */
export function loadStaticFiles(): StaticFiles {
  const client = new Map<string, StaticFile>();
  for (const f of DIST_FILES) {
    client.set(f, { body: readFileSync(join(DIST_DIR, f)), contentType: TYPES[f.split('.').pop()!] });
  }
  const images = new Map<string, StaticFile>();
  const dir = osdImagesDir();
  for (const f of readdirSync(dir)) {
    if (/^[a-z_]+\.png$/.test(f)) images.set(f, { body: readFileSync(join(dir, f)), contentType: TYPES.png });
  }
  return { client: (n) => client.get(n), osdImage: (n) => images.get(n) };
}
