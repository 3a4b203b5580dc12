/**
 * `wsi <command>`: finds the command, runs it, and turns errors into one-line messages (stack traces
 * only with --debug). Commands are the files of pipeline/commands/ (see command-index.ts); each is
 * imported only when it runs, and `wsi --help` lists them from their summaries without importing any.
 *
 * bin/wsi.js passes the table the compiled build generated (dist/, scripts/build.ts); run from the
 * sources, the table comes from listing the folder.
 */
import { pathToFileURL } from 'node:url';
import { COMMAND_NAME, readCommandSummaries } from './command-index.ts';
import type { Command } from './commands/types.ts';
import { asWsiError, WsiError } from './errors.ts';

/** One entry of the command table: its name, its summary without importing it, and how to import it. */
export interface CommandEntry {
  readonly name: string;
  /** The line for `wsi --help`; undefined when only importing the module tells (not a literal). */
  readonly summary: string | undefined;
  load(): Promise<{ command?: Command }>;
}

/** The command table of the source tree: pipeline/commands/*.ts, summaries read from the text. */
export function sourceCommands(): CommandEntry[] {
  return readCommandSummaries().map(({ name, path, summary }) => ({
    name,
    summary,
    load: () => import(pathToFileURL(path).href) as Promise<{ command?: Command }>,
  }));
}

async function loadCommand(commands: readonly CommandEntry[], name: string): Promise<Command | undefined> {
  if (!COMMAND_NAME.test(name)) return undefined;
  const entry = commands.find((c) => c.name === name);
  return entry ? (await entry.load()).command : undefined;
}

async function printHelp(commands: readonly CommandEntry[]): Promise<void> {
  const lines = ['usage: wsi <command> [options]   (wsi <command> --help for details)', '', 'commands:'];
  for (const entry of commands) {
    // A summary that is not a literal is rare: only then is that one command imported.
    const summary = entry.summary ?? (await entry.load()).command?.summary;
    if (summary !== undefined) lines.push(`  ${entry.name.padEnd(12)} ${summary}`);
  }
  lines.push('', 'global options: --debug (show stack traces)');
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function main(
  argv: string[],
  commands: readonly CommandEntry[] = sourceCommands(),
): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await printHelp(commands);
    return name ? 0 : 2;
  }
  const cmd = await loadCommand(commands, name);
  if (!cmd) {
    process.stderr.write(`wsi: unknown command '${name}' (try: wsi --help)\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage.trim()}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (caught) {
    const err = asWsiError(caught);
    if (debug) {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    } else if (err instanceof WsiError) {
      process.stderr.write(`wsi ${name}: ${err.name}: ${err.message}\n`);
    } else {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(
        `wsi ${name}: unexpected error: ${message.split('\n')[0]} (rerun with --debug for details)\n`,
      );
    }
    return 1;
  }
}
