/**
 * The fast-starting CLI (bin/wsi.js, scripts/build.ts, bin/fresh-build.mjs): compiled JavaScript in dist/
 * runs only while no source it was built from has changed; `wsi --help` imports no command; the compiled
 * and the tsx paths print the same. Everything runs in a copy of the repository (sources edited there, a
 * build of its own), so the real tree and other tests are untouched. No timings here: see bench/cli-start.ts.
 */
import { spawn } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readSummary } from '../pipeline/command-index.ts';
import type { Command } from '../pipeline/commands/types.ts';
import { CMU_SLIDE, repoRoot, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const tmp = tempDir('cli-start');
const copy = path.join(tmp.path, 'repo');
const RECORDER = path.join(repoRoot, 'tests/helpers/record-imports.mjs');
/** npm packages no `wsi --help` (and no `wsi info`) may load. */
const HEAVY = /node_modules\/(@tensorflow|onnxruntime-node|sharp|better-sqlite3|piscina|koffi|bullmq)\//;
/** What `wsi info` on a TIFF does not need: network and thread modules (compiled build), DICOM readers. */
const NOT_FOR_INFO_COMPILED = /^node:(https?|tls|net|worker_threads)$/;
const DICOM_READERS = /\/pipeline\/slide\/dicom\/(open-files|dicomweb|parse)\.ts$/;

// A command and a worker task added to the copy: where does each run from (compiled or source)?
const PROBE_COMMAND = `
import { createPool } from '../pool.ts';
import type { Command } from './types.ts';

export const command: Command = {
  name: 'startprobe',
  summary: 'test probe: ' + "where the CLI and a worker task run from",
  usage: 'usage: wsi startprobe',
  async run() {
    const pool = createPool({ workers: 1 });
    try {
      const worker = await pool.run<string>('startprobe', null);
      const cli = new Error().stack?.split('\\n')[1] ?? '';
      process.stdout.write(\`\${JSON.stringify({ cli, worker })}\\n\`);
    } finally {
      await pool.close();
    }
    return 0;
  },
};
`;
const PROBE_WORKER = `
export function run(): string {
  return new Error().stack?.split('\\n')[1] ?? '';
}
`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Which path bin/wsi.js took (WSI_DEBUG_BUILD=1). */
  compiled: boolean;
  /** Module URLs the process resolved, when recorded. */
  imports: string[];
}

/** Runs node asynchronously (a long spawnSync would stall vitest's own messaging). */
function node(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: copy, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function wsi(
  args: string[],
  opts: { record?: boolean; env?: Record<string, string> } = {},
): Promise<Run> {
  const log = path.join(tmp.path, `imports-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(log, '');
  const nodeArgs = opts.record ? ['--import', pathToFileURL(RECORDER).href] : [];
  const r = await node([...nodeArgs, path.join(copy, 'bin/wsi.js'), ...args], {
    WSI_DEBUG_BUILD: '1',
    WSI_RECORD_IMPORTS: log,
    ...opts.env,
  });
  const imports = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const first = r.stderr.split('\n')[0];
  expect(first).toMatch(/^wsi: (compiled build|TypeScript sources)/);
  const stderr = r.stderr.split('\n').slice(1).join('\n');
  return { code: r.code, stdout: r.stdout, stderr, compiled: first.startsWith('wsi: compiled'), imports };
}

/** scripts/build.ts in the copy; returns its one line of output. */
async function build(...flags: string[]): Promise<string> {
  const r = await node(['--import', 'tsx', 'scripts/build.ts', ...flags]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

/** Command names as the folder says: .ts files that export `command` (not types.ts, not helpers). */
function commandFilesOf(root: string): string[] {
  const dir = path.join(root, 'pipeline/commands');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'types.ts')
    .filter((f) => /^export const command\b/m.test(readFileSync(path.join(dir, f), 'utf8')))
    .map((f) => f.slice(0, -3))
    .sort();
}

/** `name summary` pairs from `wsi --help`. */
function helpListing(stdout: string): Map<string, string> {
  const lines = stdout.split('\n');
  const start = lines.indexOf('commands:') + 1;
  const end = lines.indexOf('', start);
  return new Map(
    lines.slice(start, end).map((l) => {
      const m = /^ {2}(\S+) +(.*)$/.exec(l);
      if (!m) throw new Error(`not a command line in --help: ${l}`);
      return [m[1], m[2]];
    }),
  );
}

beforeAll(async () => {
  mkdirSync(copy);
  for (const dir of ['bin', 'pipeline', 'workers', 'schemas', 'scripts', 'viewer', 'fixtures', 'models']) {
    cpSync(path.join(repoRoot, dir), path.join(copy, dir), {
      recursive: true,
      // Sources only: fixtures' generated data and the viewer's built client are not needed.
      filter: (src) => path.basename(src) !== 'dist' && !/\.(svs|tiff?|png|jpg|sqlite)$/.test(src),
    });
  }
  for (const f of ['package.json', 'tsconfig.json']) cpSync(path.join(repoRoot, f), path.join(copy, f));
  symlinkSync(realpathSync(path.join(repoRoot, 'node_modules')), path.join(copy, 'node_modules'));
  writeFileSync(path.join(copy, 'pipeline/commands/startprobe.ts'), PROBE_COMMAND);
  writeFileSync(path.join(copy, 'workers/startprobe.ts'), PROBE_WORKER);
  // Helper modules beside the commands are not commands.
  writeFileSync(path.join(copy, 'pipeline/commands/_shared-probe.ts'), 'export const x = 1;\n');
  writeFileSync(path.join(copy, 'pipeline/commands/shared-probe.ts'), 'export const y = 2;\n');
  await build();
}, 300_000);
afterAll(() => tmp.cleanup());

describe('readSummary', () => {
  const cmd = (body: string) =>
    `import x from 'y';\nexport const command: Command = {\n  name: 'n',\n${body}\n  usage,\n};\n`;
  it('reads literal summaries of every quoting, escapes and + joins included', () => {
    expect(readSummary(cmd("  summary: 'a slide’s \\'levels\\'',"))).toBe("a slide’s 'levels'");
    expect(readSummary(cmd('  summary: "tab\\there",'))).toBe('tab\there');
    expect(readSummary(cmd('  summary: `multi`,'))).toBe('multi');
    expect(readSummary(cmd("  summary:\n    'one, ' +\n    'two',"))).toBe('one, two');
    expect(readSummary(cmd("  summary: 'last'\n}"))).toBe('last');
  });
  it('says undefined (import to know) for computed summaries, and ignores summaries before the command', () => {
    expect(readSummary(cmd('  summary: `$' + '{x} y`,'))).toBeUndefined();
    expect(readSummary(cmd("  summary: 'a'.trim(),"))).toBeUndefined();
    expect(readSummary(cmd('  summary,'))).toBeUndefined();
    expect(readSummary("const other = { summary: 'not this' };\nexport const y = 1;\n")).toBeUndefined();
    expect(readSummary(`const o = { summary: 'no' };\n${cmd("  summary: 'yes',")}`)).toBe('yes');
  });
});

describe('wsi --help', () => {
  it('lists every command file of pipeline/commands with its summary, reading no command module', async () => {
    const [compiled, source] = await Promise.all([
      wsi(['--help'], { record: true }),
      wsi(['--help'], { record: true, env: { WSI_FROM_SOURCE: '1' } }),
    ]);
    expect(compiled.code).toBe(0);
    expect(compiled.compiled).toBe(true);
    expect(source.compiled).toBe(false);
    expect(source.stdout).toBe(compiled.stdout);
    const listed = helpListing(compiled.stdout);
    expect([...listed.keys()]).toEqual(commandFilesOf(copy));
    expect(listed.has('shared-probe')).toBe(false);
    expect(listed.get('startprobe')).toBe('test probe: where the CLI and a worker task run from');
    // Every real command's summary is a literal --help can read without importing it.
    for (const name of commandFilesOf(repoRoot)) {
      const text = readFileSync(path.join(repoRoot, 'pipeline/commands', `${name}.ts`), 'utf8');
      expect(
        readSummary(text),
        `pipeline/commands/${name}.ts: give command.summary as a string literal`,
      ).toBe(listed.get(name));
    }
    // ... and it is the one the module exports (checked on two light commands; importing all loads tfjs).
    for (const name of ['info', 'region']) {
      const mod = (await import(path.join(repoRoot, 'pipeline/commands', `${name}.ts`))) as {
        command: Command;
      };
      expect(listed.get(name)).toBe(mod.command.summary);
    }

    // Loaded: dist/'s entry and shared chunks only (each command is a chunk named after it), or from source
    // no file of pipeline/commands; never tfjs, onnxruntime, sharp, better-sqlite3, piscina.
    const ours = compiled.imports.filter((u) => u.startsWith(pathToFileURL(copy).href));
    expect(ours).toContain(pathToFileURL(path.join(copy, 'dist/wsi.js')).href);
    for (const u of ours.filter((x) => x.includes('/dist/')))
      expect(u).toMatch(/\/dist\/(wsi|chunk-\w+)\.js$/);
    expect(compiled.imports.filter((u) => HEAVY.test(u))).toEqual([]);
    expect(source.imports).toContain(pathToFileURL(path.join(copy, 'pipeline/cli.ts')).href);
    expect(source.imports.filter((u) => u.includes('/pipeline/commands/'))).toEqual([]);
    expect(source.imports.filter((u) => HEAVY.test(u))).toEqual([]);
  });

  it('keeps `wsi <command> --help` and the unknown-command error', async () => {
    const [usage, bad, helper] = await Promise.all([
      wsi(['info', '--help']),
      wsi(['no-such-command']),
      wsi(['shared-probe']),
    ]);
    expect(usage.code).toBe(0);
    expect(usage.stdout).toMatch(/^usage: wsi info <slide>/);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("wsi: unknown command 'no-such-command' (try: wsi --help)\n");
    expect(helper.code).toBe(2);
  });
});

describe('compiled and tsx paths', () => {
  it('print the same for wsi info (--json and text); info loads no sharp, tfjs, sqlite, http, worker_threads or DICOM reader', async () => {
    for (const args of [
      ['info', CMU_SLIDE, '--json'],
      ['info', TCGA_SLIDE],
    ]) {
      const [fast, slow] = await Promise.all([
        wsi(args, { record: true }),
        wsi(args, { record: true, env: { WSI_FROM_SOURCE: '1' } }),
      ]);
      expect(fast.compiled).toBe(true);
      expect(slow.compiled).toBe(false);
      expect(fast.code).toBe(0);
      expect(fast.stdout).toBe(slow.stdout);
      expect(fast.imports.filter((u) => HEAVY.test(u))).toEqual([]);
      expect(fast.imports.filter((u) => NOT_FOR_INFO_COMPILED.test(u))).toEqual([]);
      expect(slow.imports.filter((u) => DICOM_READERS.test(u))).toEqual([]);
    }
    // Errors keep their class names and one-line form in the compiled build.
    const missing = await wsi(['info', path.join(tmp.path, 'nope.svs')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^wsi info: SlideNotFoundError: .*nope\.svs[^\n]*\n$/);
  });

  it('run worker tasks compiled when the build is fresh, from source otherwise', async () => {
    const [fast, slow] = await Promise.all([
      wsi(['startprobe']),
      wsi(['startprobe'], { env: { WSI_FROM_SOURCE: '1' } }),
    ]);
    expect(fast.code, fast.stderr).toBe(0);
    const f = JSON.parse(fast.stdout) as { cli: string; worker: string };
    expect(f.cli).toMatch(/\/dist\/startprobe-\w+\.js/);
    expect(f.worker).toMatch(/\/dist\/worker-startprobe\.js/);
    const s = JSON.parse(slow.stdout) as { cli: string; worker: string };
    expect(s.cli).toMatch(/\/pipeline\/commands\/startprobe\.ts/);
    expect(s.worker).toMatch(/\/workers\/startprobe\.ts/);
  });
});

describe('never stale', () => {
  it('an edited, added, touched or removed source runs from source until the next build', async () => {
    const infoTs = path.join(copy, 'pipeline/commands/info.ts');
    const original = readFileSync(infoTs, 'utf8');
    expect((await wsi(['info', CMU_SLIDE])).compiled).toBe(true);

    // Edited, and a command added: the next runs show both, from source.
    const edited = original
      .replace(/summary: '[^']*'/, "summary: 'edited summary'")
      .replace('`slide:        ', '`slide (edited): ');
    expect(edited).not.toBe(original);
    writeFileSync(infoTs, edited);
    writeFileSync(
      path.join(copy, 'pipeline/commands/hello.ts'),
      "import type { Command } from './types.ts';\nexport const command: Command = { name: 'hello', summary: 'says hello', usage: 'usage: wsi hello', async run() { process.stdout.write('hello\\n'); return 0; } };\n",
    );
    const [help, run, hello] = await Promise.all([wsi(['--help']), wsi(['info', CMU_SLIDE]), wsi(['hello'])]);
    for (const r of [help, run, hello]) expect(r.compiled).toBe(false);
    expect(helpListing(help.stdout).get('info')).toBe('edited summary');
    expect(helpListing(help.stdout).get('hello')).toBe('says hello');
    expect(run.stdout).toMatch(/^slide \(edited\): /);
    expect(hello.stdout).toBe('hello\n');

    // Rebuilt (make setup's --if-stale): compiled again, with the edit; a second --if-stale does nothing.
    expect(await build('--if-stale')).toMatch(/^dist\/: compiled/);
    expect(await build('--if-stale')).toMatch(/^dist\/: up to date/);
    const [rebuilt, helloBuilt] = await Promise.all([wsi(['info', CMU_SLIDE]), wsi(['hello'])]);
    expect(rebuilt.compiled).toBe(true);
    expect(rebuilt.stdout).toMatch(/^slide \(edited\): /);
    expect(helloBuilt.compiled).toBe(true);
    expect(helloBuilt.stdout).toBe('hello\n');

    // Removed, or only touched deep in the reader: not trusted either (the check bin/wsi.js makes).
    const { checkBuild } = (await import(pathToFileURL(path.join(copy, 'bin/fresh-build.mjs')).href)) as {
      checkBuild(scope?: { command?: string; help?: boolean }): { fresh: boolean; reason?: string };
    };
    expect(checkBuild().fresh).toBe(true);
    const helloTs = path.join(copy, 'pipeline/commands/hello.ts');
    renameSync(helloTs, path.join(tmp.path, 'hello.ts'));
    expect(checkBuild()).toEqual({ fresh: false, reason: 'pipeline/commands/hello.ts was removed' });
    renameSync(path.join(tmp.path, 'hello.ts'), helloTs); // a rename keeps the mtime: as built
    expect(checkBuild().fresh).toBe(true);
    const later = new Date(Date.now() + 5_000);
    utimesSync(path.join(copy, 'pipeline/slide/open.ts'), later, later);
    expect(checkBuild()).toEqual({ fresh: false, reason: 'pipeline/slide/open.ts changed' });
    // `wsi <command>` checks only what that command can load: the reader for info, not for --help.
    expect(checkBuild({ command: 'info' })).toEqual({
      fresh: false,
      reason: 'pipeline/slide/open.ts changed',
    });
    expect(checkBuild({ help: true }).fresh).toBe(true);
    utimesSync(path.join(copy, 'pipeline/commands/region.ts'), later, later);
    expect(checkBuild({ help: true })).toEqual({
      fresh: false,
      reason: 'pipeline/commands/region.ts changed',
    });
    expect(checkBuild({ command: 'hello' }).fresh).toBe(true);
    expect(checkBuild({ command: 'region' }).fresh).toBe(false);
    // A name the build does not know gets the whole check (a command file added since is in its listing).
    expect(checkBuild({ command: 'nope' }).fresh).toBe(false);
  });
});
