/** `wsi worker --queue redis://HOST:PORT`: run stage tasks from the queue until SIGTERM. */
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.ts';
import { startQueueWorker } from '../queue/worker.ts';
import type { Command } from './types.ts';

const usage = `
usage: wsi worker --queue redis://HOST:PORT [--concurrency N] [--name NAME] [--lock-ms 30000]
                  [--stalled-ms 15000] [--cache DIR] [--in-process] [--quiet]

Takes tasks of any stage (patch images, FCN tiles, cell counts, embeddings, ...) submitted by a stage
command run with --queue, and runs them with the same task code as the local pool, --concurrency at a
time in worker threads (--in-process: in this thread). Slides are read from the path or URL the
submitter gives; model files come from Redis by content hash and are kept in --cache DIR.
SIGTERM or Ctrl-C finishes the running tasks and exits; a second one exits at once (those tasks go
back to the queue when their lock expires, --lock-ms after the last heartbeat).
`;

export const command: Command = {
  name: 'worker',
  summary: 'run stage tasks from a Redis queue (BullMQ) submitted by commands given --queue',
  usage,
  async run(argv) {
    const p = parseFlags(argv, {
      queue: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
      'lock-ms': { type: 'string' },
      'stalled-ms': { type: 'string' },
      cache: { type: 'string' },
      'in-process': { type: 'boolean' },
      quiet: { type: 'boolean' },
    });
    const quiet = boolFlag(p, 'quiet');
    const handle = await startQueueWorker({
      url: stringFlag(p, 'queue', true),
      concurrency: numberFlag(p, 'concurrency', { integer: true, min: 1, max: 256, default: 1 }),
      name: stringFlag(p, 'name'),
      lockDurationMs: numberFlag(p, 'lock-ms', { integer: true, min: 500, max: 3_600_000 }),
      stalledIntervalMs: numberFlag(p, 'stalled-ms', { integer: true, min: 100, max: 3_600_000 }),
      cacheDir: stringFlag(p, 'cache'),
      inProcess: boolFlag(p, 'in-process'),
      log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
    });
    let signals = 0;
    const stop = () => {
      signals++;
      if (!quiet) process.stderr.write(signals === 1 ? 'finishing running tasks…\n' : 'stopping now\n');
      void handle.close(signals > 1);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    await handle.closed;
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    return 0;
  },
};
