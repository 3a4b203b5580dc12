/** The flags a stage command takes to run its tasks on the queue, and their usage text. */
import type { Parsed } from '../args.ts';
import { numberFlag, stringFlag } from '../args.ts';
import { ConfigError } from '../errors.ts';
import type { QueueFlags } from './task-executor.ts';

export type { QueueFlags } from './task-executor.ts';

export const QUEUE_FLAGS = {
  queue: { type: 'string' },
  attempts: { type: 'string' },
  'slide-base-url': { type: 'string' },
  'path-map': { type: 'string', multiple: true },
  'queue-size': { type: 'string' },
} as const;

export const QUEUE_USAGE = `
  --queue redis://HOST:PORT  run the tasks on \`wsi worker\` processes (any machine) instead of the local
                     pool; this process still plans the run and alone writes the store
  --attempts N       tries per task on the queue before its slide counts as failed (default 3)
  --slide-base-url URL  workers read each slide as URL/<file name> (any static server with range requests)
  --path-map FROM=TO    workers read slide paths starting with FROM under TO (path or URL; repeatable)
  --queue-size N     tasks kept in flight on the queue (default 32; about the cluster's total concurrency)`;

export function queueFlagsOf(p: Parsed): QueueFlags | undefined {
  const url = stringFlag(p, 'queue');
  const maps = p.values['path-map'];
  const flags = {
    attempts: numberFlag(p, 'attempts', { integer: true, min: 1, max: 100 }),
    slideBaseUrl: stringFlag(p, 'slide-base-url'),
    pathMaps: Array.isArray(maps) ? maps : undefined,
    size: numberFlag(p, 'queue-size', { integer: true, min: 1, max: 100_000 }),
  };
  if (!url) {
    if (flags.attempts !== undefined || flags.slideBaseUrl || flags.pathMaps || flags.size !== undefined) {
      throw new ConfigError('--attempts, --slide-base-url, --path-map and --queue-size need --queue');
    }
    return undefined;
  }
  return { url, ...flags };
}
