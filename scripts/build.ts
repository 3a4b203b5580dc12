/**
 * Compiles the CLI and the worker tasks to JavaScript in dist/, so `wsi` starts without transpiling
 * TypeScript (bin/wsi.js uses it while it is fresh, see bin/fresh-build.mjs). Run by `make setup`:
 *
 *   npx tsx scripts/build.ts [--if-stale] [--quiet]
 *
 * One esbuild bundle with code splitting, all output files flat in dist/:
 *   wsi.js             pipeline/cli.ts's `main` plus the command table: name, summary, lazy import
 *   worker-<kind>.js   workers/<kind>.ts, loaded by workers/entry.mjs
 *   chunk-*.js         shared modules and one chunk per command, loaded when that command runs
 * npm packages stay external (native addons, tfjs, onnxruntime, piscina load from node_modules as before),
 * except the pure-JS TIFF parser geotiff and its dependencies (INLINE): bundled, they cost `wsi info` about
 * half as much to load as ~45 separate ES modules do. Their package.json files are recorded with our
 * sources, so an npm update makes the build stale. Two start-up costs are removed from the bundle (see
 * startupPatches): geotiff's Node HTTP client loads node:http/https (with TLS) only when it is used, and
 * slide/tiff/worker-threads-shim.ts, needed only where geotiff's web-worker dependency is loaded, is empty
 * (the build fails if web-worker is ever bundled).
 * Each source's `import.meta.url` is rewritten to that source's own URL, so paths it resolves against it
 * (schemas/, models/, viewer/, workers/entry.mjs) are the same as when it runs from the sources.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Metafile, type Plugin } from 'esbuild';
import {
  type BuildManifest,
  checkBuild,
  DIST_DIR,
  LISTED_DIRS,
  listSources,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  ROOT,
} from '../bin/fresh-build.mjs';
import { readCommandSummaries } from '../pipeline/command-index.ts';
import type { Command } from '../pipeline/commands/types.ts';

const ENTRY_MODULE = 'wsi-build:cli-entry';
/** Packages bundled into dist/ (pure JS, no files of their own read at run time on our code paths). */
const INLINE = /^(geotiff|web-worker|@petamoriken\/float16|xml-utils|quick-lru)(\/|$)/;
const THIS_FILE = fileURLToPath(import.meta.url);

const toPosix = (p: string) => p.split(sep).join('/');
const rel = (abs: string) => toPosix(relative(ROOT, abs));

/** mtime of each source as it was before the build read it (first stat wins: a later edit makes it stale). */
class SourceTimes {
  readonly times: Record<string, number> = {};
  record(abs: string): void {
    this.times[rel(abs)] ??= statSync(abs).mtimeMs;
  }
}

/**
 * The command table as an ES module: summaries as literals (read from the source text, or by importing
 * the command once here when it is not a literal), each command behind a dynamic import, so esbuild puts
 * it in its own chunk and `wsi --help` loads none of them.
 */
async function commandTableModule(times: SourceTimes): Promise<{ module: string; names: string[] }> {
  const lines = [`export { main } from ${JSON.stringify(toPosix(join(ROOT, 'pipeline/cli.ts')))};`];
  const names: string[] = [];
  lines.push('export const commands = [');
  for (const dir of LISTED_DIRS) for (const f of listSources(dir)) times.record(join(ROOT, dir, f));
  for (const { name, path, summary } of readCommandSummaries()) {
    let line = summary;
    if (line === undefined) {
      const mod = (await import(pathToFileURL(path).href)) as { command?: Command };
      if (!mod.command) continue;
      line = mod.command.summary;
    }
    names.push(name);
    const spec = JSON.stringify(toPosix(path));
    lines.push(
      `  { name: ${JSON.stringify(name)}, summary: ${JSON.stringify(line)}, load: () => import(${spec}) },`,
    );
  }
  lines.push('];');
  return { module: `${lines.join('\n')}\n`, names };
}

/** An inlined package's package.json (npm rewrites it on every install or update), for a file inside it. */
function packageJsonOf(file: string): string | undefined {
  const m = /^(.*[\\/]node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file);
  return m ? join(m[1], 'package.json') : undefined;
}

/** The manifest key of an esbuild input (undefined for the virtual command-table module). */
function sourceKey(input: string): string | undefined {
  if (input.includes(':')) return undefined; // namespace:path, e.g. wsi-build:…
  const abs = resolve(ROOT, input);
  return rel(packageJsonOf(abs) ?? abs);
}

/** Source files an output was built from, following its imports of other outputs (dynamic ones if asked). */
function closure(meta: Metafile, start: string, dynamic: boolean): Set<string> {
  const files = new Set<string>();
  const seen = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const out = todo.pop() as string;
    if (seen.has(out)) continue;
    seen.add(out);
    const o = meta.outputs[out];
    if (!o) throw new Error(`esbuild metafile has no output ${out}`);
    for (const input of Object.keys(o.inputs)) {
      const key = sourceKey(input);
      if (key) files.add(key);
    }
    for (const imp of o.imports) {
      if (!imp.external && (dynamic || imp.kind === 'import-statement')) todo.push(imp.path);
    }
  }
  return files;
}

/**
 * What each kind of run depends on, as indices into the manifest's files, so bin/wsi.js stats only those:
 * `wsi <command>` the CLI entry and everything that command's chunk can load (dynamic imports included);
 * `wsi --help` the CLI entry and every command file (the summaries come from their text).
 */
function dependencyGroups(meta: Metafile, files: string[], commands: string[]): BuildManifest['groups'] {
  const index = new Map(files.map((f, i) => [f, i]));
  const indices = (set: Iterable<string>) =>
    [...new Set(set)].map((f) => {
      const i = index.get(f);
      if (i === undefined) throw new Error(`${f} was bundled but its mtime was not recorded`);
      return i;
    });
  const entry = toPosix(relative(ROOT, join(DIST_DIR, 'wsi.js')));
  const cli = [rel(THIS_FILE), ...closure(meta, entry, false)];
  const chunkOf = new Map(
    Object.entries(meta.outputs)
      .filter(([, o]) => o.entryPoint)
      .map(([out, o]) => [o.entryPoint as string, out]),
  );
  const commandFiles = files.filter((f) => f.startsWith('pipeline/commands/'));
  return {
    help: indices([...cli, ...commandFiles]),
    commands: Object.fromEntries(
      commands.map((name) => {
        const chunk = chunkOf.get(`pipeline/commands/${name}.ts`);
        if (!chunk) throw new Error(`no output chunk for pipeline/commands/${name}.ts`);
        return [name, indices([...cli, ...closure(meta, chunk, true)])];
      }),
    ),
  };
}

/**
 * Start-up costs removed from the bundle (together ~19 M of the ~190 M instructions `wsi info` adds to
 * Node's own start-up, a few ms; bench/cli-start.ts):
 * - geotiff's Node HTTP client imports node:http and node:https (with TLS) at load time, although Node has
 *   fetch and geotiff uses its fetch client: here they are required when that client makes a request.
 * - slide/tiff/worker-threads-shim.ts loads node:worker_threads to patch what geotiff's web-worker
 *   dependency reads; geotiff's worker pool is not reachable from our code, so web-worker is never
 *   bundled (checked after each build: bundling it fails the build) and the shim is left empty.
 */
const GEOTIFF_HTTP_CLIENT = /[\\/]geotiff[\\/]dist-module[\\/]source[\\/]client[\\/]http\.js$/;
const GEOTIFF_HTTP_IMPORTS = "import http from 'http';\nimport https from 'https';\n";
const LAZY_HTTP_IMPORTS =
  "import { createRequire as __wsiCreateRequire } from 'node:module';\n" +
  'const __wsiLazy = (name) => ({ get: (...args) => __wsiCreateRequire(import.meta.url)(name).get(...args) });\n' +
  "const http = __wsiLazy('node:http');\nconst https = __wsiLazy('node:https');\n";
const WORKER_THREADS_SHIM = join(ROOT, 'pipeline/slide/tiff/worker-threads-shim.ts');

function startupPatches(times: SourceTimes): Plugin {
  return {
    name: 'wsi-startup-patches',
    setup(b) {
      b.onLoad({ filter: GEOTIFF_HTTP_CLIENT }, (args) => {
        times.record(packageJsonOf(args.path) ?? args.path);
        const source = readFileSync(args.path, 'utf8');
        // Its only uses of http/https are `.get(...)`; anything else would be a new geotiff version.
        if (!source.startsWith(GEOTIFF_HTTP_IMPORTS) || /[\s(]https?\.(?!get\()/.test(source))
          throw new Error(`${rel(args.path)}: unexpected imports, update startupPatches in scripts/build.ts`);
        return { contents: LAZY_HTTP_IMPORTS + source.slice(GEOTIFF_HTTP_IMPORTS.length), loader: 'js' };
      });
      b.onLoad({ filter: /[\\/]worker-threads-shim\.ts$/ }, (args) => {
        if (args.path !== WORKER_THREADS_SHIM) return undefined;
        times.record(args.path);
        return {
          contents: "// geotiff's web-worker dependency is not bundled (scripts/build.ts)\n",
          loader: 'js',
        };
      });
    },
  };
}

/** esbuild reads web-worker (geotiff imports it) and drops it as unused: fail if any of it is left. */
function checkNoWebWorker(meta: Metafile): void {
  for (const [out, o] of Object.entries(meta.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(o.inputs)) {
      if (bytesInOutput > 0 && /(^|[\\/])node_modules[\\/]web-worker[\\/]/.test(input))
        throw new Error(
          `${input} is bundled into ${out}: slide/tiff/worker-threads-shim.ts is left empty, see startupPatches`,
        );
    }
  }
}

/** Loads our own sources: records their mtimes and points `import.meta.url` at the source file. */
function sourcesPlugin(times: SourceTimes, tableModule: string): Plugin {
  return {
    name: 'wsi-sources',
    setup(b) {
      b.onResolve({ filter: /^wsi-build:/ }, (args) => ({ path: args.path, namespace: 'wsi-build' }));
      b.onLoad({ filter: /.*/, namespace: 'wsi-build' }, () => ({
        contents: tableModule,
        resolveDir: ROOT,
        loader: 'js',
      }));
      // Bare specifiers (npm packages, node: builtins) stay imports, resolved from dist/ at run time.
      b.onResolve({ filter: /^[^./]/ }, (args) =>
        args.namespace === 'file' && !INLINE.test(args.path)
          ? { path: args.path, external: true }
          : undefined,
      );
      b.onLoad({ filter: /.*/, namespace: 'file' }, (args) => {
        times.record(packageJsonOf(args.path) ?? args.path);
        // Packages and non-code files (JSON) are recorded above and then loaded by esbuild as usual.
        if (args.path.includes(`${sep}node_modules${sep}`) || !/\.[cm]?[jt]s$/.test(args.path))
          return undefined;
        let contents = readFileSync(args.path, 'utf8');
        if (contents.includes('import.meta.')) {
          // Relative to the output file (every output is directly in dist/), so the tree can move as a whole.
          const fromDist = JSON.stringify(toPosix(relative(DIST_DIR, args.path)));
          const url = `new URL(${fromDist}, import.meta.url).href`;
          contents = contents
            .replaceAll('import.meta.url', url)
            .replaceAll('import.meta.filename', `__wsiFileURLToPath(${url})`)
            .replaceAll('import.meta.dirname', `__wsiDirname(__wsiFileURLToPath(${url}))`);
          // Same line as the source's first line, so source-map line numbers stay right.
          if (contents.includes('__wsi'))
            contents = `import { fileURLToPath as __wsiFileURLToPath } from 'node:url'; import { dirname as __wsiDirname } from 'node:path'; ${contents}`;
        }
        const loader = /\.[cm]?ts$/.test(args.path) ? 'ts' : 'js';
        return { contents, loader };
      });
    },
  };
}

/** Builds into a private folder beside dist/ and swaps it in, so no run ever sees half a build. */
export async function buildDist(): Promise<{ manifest: BuildManifest; outputs: number; ms: number }> {
  const t0 = performance.now();
  const times = new SourceTimes();
  times.record(THIS_FILE);
  const table = await commandTableModule(times);
  const workers = listSources('workers').map((f) => f.slice(0, -3));
  const result = await build({
    entryPoints: [
      { in: ENTRY_MODULE, out: 'wsi' },
      ...workers.map((kind) => ({ in: join(ROOT, 'workers', `${kind}.ts`), out: `worker-${kind}` })),
    ],
    outdir: DIST_DIR,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Error classes name themselves with new.target.name: keep names esbuild would otherwise suffix.
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: ROOT,
    plugins: [startupPatches(times), sourcesPlugin(times, table.module)],
  });
  checkNoWebWorker(result.metafile);
  const files = Object.keys(times.times);
  const manifest: BuildManifest = {
    format: MANIFEST_FORMAT,
    entry: 'wsi.js',
    workers: Object.fromEntries(workers.map((kind) => [kind, `worker-${kind}.js`])),
    files,
    mtimes: files.map((f) => times.times[f]),
    listings: Object.fromEntries(LISTED_DIRS.map((dir) => [dir, listSources(dir)])),
    groups: dependencyGroups(result.metafile, files, table.names),
  };

  const tmp = join(ROOT, `.dist-build-${process.pid}-${randomBytes(3).toString('hex')}`);
  const old = `${tmp}-old`;
  try {
    for (const f of result.outputFiles) {
      const out = join(tmp, relative(DIST_DIR, f.path));
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, f.contents);
    }
    writeFileSync(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest)}\n`);
    try {
      renameSync(DIST_DIR, old);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    try {
      renameSync(tmp, DIST_DIR);
    } catch (err) {
      // Another build swapped its own (equally fresh) output in between: keep that one.
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
  return { manifest, outputs: result.outputFiles.length, ms: performance.now() - t0 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { 'if-stale': { type: 'boolean' }, quiet: { type: 'boolean' } } });
  const say = (s: string) => values.quiet || process.stdout.write(`${s}\n`);
  const check = checkBuild();
  if (values['if-stale'] && check.fresh) {
    say(`dist/: up to date (${check.sources} sources)`);
  } else {
    try {
      const { manifest, outputs, ms } = await buildDist();
      const n = manifest.files.length;
      say(`dist/: compiled ${n} sources into ${outputs} files in ${Math.round(ms)} ms`);
    } catch (err) {
      // esbuild has already printed the errors with their file and line; dist/ is left as it was.
      process.stderr.write(`dist/: build failed: ${(err as Error).message.split('\n')[0]}\n`);
      process.exitCode = 1;
    }
  }
}
