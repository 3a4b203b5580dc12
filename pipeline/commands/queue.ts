/** `wsi queue status --queue redis://…`: jobs per run and the live workers. */
import { boolFlag, parseFlags, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import { formatStatus, queueStatus } from '../queue/status.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi queue status --queue redis://HOST:PORT [--json]

Waiting, running (active), delayed (backing off before a retry), completed and failed jobs per run,
with the counters submitters and workers keep (added, started, completed, attemptsFailed), and each
live worker with the tasks it is running now.
`;

export const command: Command = {
  name: 'queue',
  summary: 'show the distributed queue: jobs per run and state, live workers and their tasks',
  usage,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub !== 'status')
      throw new ConfigError(`unknown queue subcommand '${sub ?? ''}' (try: wsi queue status)`);
    const p = parseFlags(rest, { queue: { type: 'string' }, json: { type: 'boolean' } }, false);
    const s = await queueStatus(stringFlag(p, 'queue', true));
    process.stdout.write(boolFlag(p, 'json') ? `${JSON.stringify(s)}\n` : `${formatStatus(s)}\n`);
    return 0;
  },
};
