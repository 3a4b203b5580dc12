// Is the compiled build in dist/ (scripts/build.ts) fresh? Plain JS: it runs before anything is transpiled,
// in bin/wsi.js and in every worker thread (workers/entry.mjs).
//
// dist/manifest.json records the mtime of every source file the build read, and the listing of the folders
// whose files are found by name (commands, workers). The build is fresh when every one of those files still
// has its recorded mtime and the listings are unchanged; otherwise callers run the TypeScript sources through
// tsx, so an edited source never runs as old code. Costs one small JSON read and one stat per source (~200).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST_DIR = join(ROOT, 'dist');
export const MANIFEST_FILE = 'manifest.json';
/** Bumped when the manifest's meaning changes, so an older build is never trusted. */
export const MANIFEST_FORMAT = 1;
/** Folders whose files are found by name at run time: a new or removed file there changes the build. */
export const LISTED_DIRS = ['pipeline/commands', 'workers'];

/** The TypeScript files of a listed folder (relative to the repository root), sorted. */
export function listSources(dir) {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts'))
    .sort();
}

function sameList(a, b) {
  return Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
}

function whyStale(manifest) {
  if (manifest.format !== MANIFEST_FORMAT)
    return `manifest format ${manifest.format}, expected ${MANIFEST_FORMAT}`;
  for (const [file, mtimeMs] of Object.entries(manifest.sources)) {
    const st = statSync(join(ROOT, file), { throwIfNoEntry: false });
    if (!st) return `${file} was removed`;
    if (st.mtimeMs !== mtimeMs) return `${file} changed`;
  }
  for (const dir of LISTED_DIRS) {
    if (!sameList(listSources(dir), manifest.listings[dir]))
      return `files were added to or removed from ${dir}/`;
  }
  return undefined;
}

/**
 * `{ fresh: true, dir, entryUrl, workerUrl(kind), sources }` when dist/ matches the sources, else
 * `{ fresh: false, reason }`. WSI_FROM_SOURCE=1 forces the sources.
 */
export function checkBuild(dir = DIST_DIR) {
  if (process.env.WSI_FROM_SOURCE === '1') return { fresh: false, reason: 'WSI_FROM_SOURCE=1' };
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return { fresh: false, reason: 'no compiled build in dist/' };
    return { fresh: false, reason: `unreadable ${MANIFEST_FILE}: ${err.message}` };
  }
  const reason = whyStale(manifest);
  if (reason) return { fresh: false, reason };
  return {
    fresh: true,
    dir,
    sources: Object.keys(manifest.sources).length,
    entryUrl: pathToFileURL(join(dir, manifest.entry)).href,
    workerUrl: (kind) =>
      Object.hasOwn(manifest.workers, kind)
        ? pathToFileURL(join(dir, manifest.workers[kind])).href
        : undefined,
  };
}
