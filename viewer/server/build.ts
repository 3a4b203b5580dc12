/**
 * Builds the client (viewer/client → viewer/dist) with esbuild when any source is newer than the
 * output, so `wsi serve` needs no separate build step. OpenSeadragon is bundled from node_modules;
 * its navigation images are served from there by name (see static.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { writeFileAtomic } from '../../pipeline/io/atomic-write.ts';

const VIEWER_DIR = fileURLToPath(new URL('../', import.meta.url));
const CLIENT_DIR = join(VIEWER_DIR, 'client');
export const DIST_DIR = join(VIEWER_DIR, 'dist');
/** Files of the built client, the only ones static.ts serves from dist. */
export const DIST_FILES = ['index.html', 'app.js', 'app.css'] as const;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function oldestOutput(): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const f of DIST_FILES) {
    const p = join(DIST_DIR, f);
    if (!existsSync(p)) return 0;
    oldest = Math.min(oldest, statSync(p).mtimeMs);
  }
  return oldest;
}

/** Rebuilds if needed; returns whether it built. */
export async function buildClient(options: { force?: boolean } = {}): Promise<boolean> {
  // This file's own changes (build settings) also invalidate the output.
  const sources = Math.max(newestMtime(CLIENT_DIR), statSync(fileURLToPath(import.meta.url)).mtimeMs);
  if (!options.force && oldestOutput() > sources) return false;
  mkdirSync(DIST_DIR, { recursive: true });
  const result = await build({
    entryPoints: { app: join(CLIENT_DIR, 'main.ts') },
    outdir: DIST_DIR,
    bundle: true,
    format: 'iife',
    target: ['chrome110', 'firefox110', 'safari16'],
    minify: true,
    sourcemap: false,
    logLevel: 'silent',
    legalComments: 'none',
    write: false,
  });
  // Several servers (parallel test files) may build at once: write each file under a private name
  // and rename it into place, so no reader ever sees a half-written bundle.
  const outputs = result.outputFiles.map((f) => ({ name: basename(f.path), data: f.contents }));
  outputs.push({ name: 'index.html', data: readFileSync(join(CLIENT_DIR, 'index.html')) });
  for (const { name, data } of outputs) writeFileAtomic(join(DIST_DIR, name), data);
  return true;
}
