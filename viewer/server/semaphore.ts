/**
 * A counting semaphore with a bounded wait queue: at most `limit` tasks run at once and at most
 * `maxQueue` wait; beyond that `run` rejects at once with QueueFullError (the server answers 503),
 * so one client flooding the server cannot make everyone else's requests wait without bound.
 */
export class QueueFullError extends Error {
  constructor() {
    super('too many tile renders queued');
    this.name = 'QueueFullError';
  }
}

export interface Semaphore {
  run<T>(task: () => Promise<T>): Promise<T>;
  readonly active: number;
  readonly waiting: number;
}

export function createSemaphore(limit: number, maxQueue: number): Semaphore {
  let active = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    active--;
    const next = queue.shift();
    if (next) {
      active++;
      next();
    }
  };
  return {
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active >= limit) {
        if (queue.length >= maxQueue) throw new QueueFullError();
        await new Promise<void>((resolve) => queue.push(resolve));
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
      return queue.length;
    },
  };
}
