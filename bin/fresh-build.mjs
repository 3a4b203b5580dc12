// Is the compiled build in dist/ (scripts/build.ts) fresh? Plain JS: it runs before anything is transpiled,
// in bin/wsi.js and in every worker thread (workers/entry.mjs).
//
// dist/manifest.json records the mtime of every source file the build read, and the listing of the folders
// whose files are found by name (commands, workers). The build is fresh when those files still have their
// recorded mtimes and the listings are unchanged; otherwise callers run the TypeScript sources through tsx,
// so an edited source never runs as old code. One stat per file costs more than it should on this machine
// (~0.1 ms under load), so a run can ask about what it will load only: `wsi info` checks the CLI entry and
// the modules the info command can import, `wsi --help` the entry and the command files.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST_DIR = join(ROOT, 'dist');
export const MANIFEST_FILE = 'manifest.json';
/** Bumped when the manifest's meaning changes, so an older build is never trusted. */
export const MANIFEST_FORMAT = 2;
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

function whyStale(manifest, indices, listings) {
  for (const i of indices) {
    const file = manifest.files[i];
    const st = statSync(join(ROOT, file), { throwIfNoEntry: false });
    if (!st) return `${file} was removed`;
    if (st.mtimeMs !== manifest.mtimes[i]) return `${file} changed`;
  }
  if (listings) {
    for (const dir of LISTED_DIRS) {
      if (!sameList(listSources(dir), manifest.listings[dir]))
        return `files were added to or removed from ${dir}/`;
    }
  }
  return undefined;
}

/**
 * `{ fresh: true, dir, sources, entryUrl, workerUrl(kind) }` when dist/ matches the sources, else
 * `{ fresh: false, reason }`. `for`: `{ command: name }` checks only what `wsi <name>` loads (everything when
 * the build has no such command), `{ help: true }` what `wsi --help` reads; default everything.
 * WSI_FROM_SOURCE=1 forces the sources.
 */
export function checkBuild(options = {}) {
  const dir = options.dir ?? DIST_DIR;
  if (process.env.WSI_FROM_SOURCE === '1') return { fresh: false, reason: 'WSI_FROM_SOURCE=1' };
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(dir, MANIFEST_FILE), 'utf8'));
  } catch (err) {
    if (err.code === 'ENOENT') return { fresh: false, reason: 'no compiled build in dist/' };
    return { fresh: false, reason: `unreadable ${MANIFEST_FILE}: ${err.message}` };
  }
  if (manifest.format !== MANIFEST_FORMAT) {
    return { fresh: false, reason: `build manifest format ${manifest.format}, expected ${MANIFEST_FORMAT}` };
  }
  const scoped = options.command !== undefined && Object.hasOwn(manifest.groups.commands, options.command);
  const indices = scoped
    ? manifest.groups.commands[options.command]
    : options.help
      ? manifest.groups.help
      : manifest.files.keys();
  const reason = whyStale(manifest, indices, !scoped);
  if (reason) return { fresh: false, reason };
  return {
    fresh: true,
    dir,
    sources: scoped || options.help ? indices.length : manifest.files.length,
    entryUrl: pathToFileURL(join(dir, manifest.entry)).href,
    workerUrl: (kind) =>
      Object.hasOwn(manifest.workers, kind)
        ? pathToFileURL(join(dir, manifest.workers[kind])).href
        : undefined,
  };
}
