/**
 * `wsi <command>`: finds pipeline/commands/<command>.ts, runs it, and turns errors into
 * one-line messages (stack traces only with --debug).
 */
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from './commands/types.ts';
import { asWsiError, WsiError } from './errors.ts';

const commandsDir = join(dirname(fileURLToPath(import.meta.url)), 'commands');
const NAME = /^[a-z][a-z0-9-]*$/;

function listCommandNames(): string[] {
  return readdirSync(commandsDir)
    .filter((f) => f.endsWith('.ts') && f !== 'types.ts' && !f.startsWith('_'))
    .map((f) => f.slice(0, -3))
    .sort();
}

async function loadCommand(name: string): Promise<Command | undefined> {
  if (!NAME.test(name) || !listCommandNames().includes(name)) return undefined;
  const mod = (await import(pathToFileURL(join(commandsDir, `${name}.ts`)).href)) as { command?: Command };
  return mod.command;
}

async function printHelp(): Promise<void> {
  const lines = ['usage: wsi <command> [options]   (wsi <command> --help for details)', '', 'commands:'];
  for (const name of listCommandNames()) {
    const cmd = await loadCommand(name);
    if (cmd) lines.push(`  ${name.padEnd(12)} ${cmd.summary}`);
  }
  lines.push('', 'global options: --debug (show stack traces)');
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    await printHelp();
    return name ? 0 : 2;
  }
  const cmd = await loadCommand(name);
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
