/**
 * A counting semaphore that is fair between clients: at most `limit` tasks run at once; waiting
 * tasks are queued per client and a freed slot goes to the next client in round-robin order, so a
 * client that queued hundreds of tiles cannot make another client's first tile wait behind them.
 * Each client may have at most `maxQueuePerClient` tasks waiting; beyond that `run` rejects at once
 * with QueueFullError (the server answers 503).
 */
export class QueueFullError extends Error {
  constructor() {
    super('too many tile renders queued');
    this.name = 'QueueFullError';
  }
}

export interface Semaphore {
  run<T>(task: () => Promise<T>, client?: string): Promise<T>;
  readonly active: number;
  readonly waiting: number;
}

export function createSemaphore(limit: number, maxQueuePerClient: number): Semaphore {
  let active = 0;
  let waiting = 0;
  // Insertion order of the Map is the round-robin order: a served client moves to the back.
  const queues = new Map<string, (() => void)[]>();

  const release = () => {
    active--;
    const next = queues.entries().next();
    if (next.done) return;
    const [client, queue] = next.value;
    const start = queue.shift()!;
    queues.delete(client);
    if (queue.length > 0) queues.set(client, queue);
    waiting--;
    active++;
    start();
  };

  return {
    async run<T>(task: () => Promise<T>, client = ''): Promise<T> {
      if (active >= limit) {
        const queue = queues.get(client) ?? [];
        if (queue.length >= maxQueuePerClient) throw new QueueFullError();
        await new Promise<void>((resolve) => {
          queue.push(resolve);
          if (!queues.has(client)) queues.set(client, queue);
          waiting++;
        });
      } else {
        active++;
      }
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiting;
    },
  };
}
