/**
 * The `wsi` commands as files: one `pipeline/commands/<name>.ts` per command, found by listing the folder
 * (no registration step), and each command's one-line summary read from its source text without
 * running it, so `wsi --help` imports no command (and none of tfjs, onnxruntime or sharp behind them).
 *
 * A command file exports `export const command: Command = { name, summary: '…', usage, run }`. Other files
 * in the folder (`types.ts`, `_shared.ts`, helpers without a `command` export) are not commands.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const COMMANDS_DIR = fileURLToPath(new URL('./commands/', import.meta.url));
/** What `wsi <name>` accepts as a name. */
export const COMMAND_NAME = /^[a-z][a-z0-9-]*$/;

export interface CommandFile {
  readonly name: string;
  readonly path: string;
}

/** Files that may hold a command: `<name>.ts` with a valid name, except `types.ts`; sorted by name. */
export function listCommandFiles(dir: string = COMMANDS_DIR): CommandFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && f !== 'types.ts')
    .map((f) => f.slice(0, -3))
    .filter((name) => COMMAND_NAME.test(name))
    .sort()
    .map((name) => ({ name, path: join(dir, `${name}.ts`) }));
}

const EXPORTS_COMMAND = /^export\s+(?:const|let)\s+command\b/m;

/** Whether a source text exports `command` (shared helper modules in the folder do not). */
export function exportsCommand(source: string): boolean {
  return EXPORTS_COMMAND.test(source);
}

// One string literal: '…', "…" or a template without substitutions; group 1 is the whole literal.
const LITERAL = String.raw`('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|\`(?:[^\`\\$]|\\.|\$(?!\{))*\`)`;
const SUMMARY = new RegExp(String.raw`\bsummary\s*:\s*(${LITERAL}(?:\s*\+\s*${LITERAL})*)\s*(?=[,}])`);
const LITERALS = new RegExp(LITERAL, 'g');

function unescapeLiteral(body: string): string {
  return body.replace(/\\(u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|\r?\n|.)/g, (_, e: string) => {
    if (e[0] === 'u') return String.fromCodePoint(Number.parseInt(e.replace(/[u{}]/g, ''), 16));
    if (e[0] === 'x') return String.fromCharCode(Number.parseInt(e.slice(1), 16));
    const simple: Record<string, string> = {
      n: '\n',
      t: '\t',
      r: '\r',
      '0': '\0',
      b: '\b',
      f: '\f',
      v: '\v',
    };
    if (e === '\n' || e === '\r\n') return ''; // line continuation
    return simple[e] ?? e;
  });
}

/**
 * The `summary: '…'` of the `command` a source text exports, when it is a string literal (or literals
 * joined by `+`); undefined when it is computed, so the caller has to import the module to know it.
 */
export function readSummary(source: string): string | undefined {
  const start = source.search(EXPORTS_COMMAND);
  if (start < 0) return undefined;
  const m = SUMMARY.exec(source.slice(start));
  if (!m) return undefined;
  return Array.from(m[1].matchAll(LITERALS), (lit) => unescapeLiteral(lit[1].slice(1, -1))).join('');
}

export interface CommandSummary extends CommandFile {
  /** Undefined when the summary is not a literal (import the module to read `command.summary`). */
  readonly summary: string | undefined;
}

/** The command files of a folder with their summaries read from the text; non-command files left out. */
export function readCommandSummaries(dir: string = COMMANDS_DIR): CommandSummary[] {
  const out: CommandSummary[] = [];
  for (const file of listCommandFiles(dir)) {
    const source = readFileSync(file.path, 'utf8');
    if (exportsCommand(source)) out.push({ ...file, summary: readSummary(source) });
  }
  return out;
}
