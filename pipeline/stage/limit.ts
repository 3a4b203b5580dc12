/** A counting semaphore: at most `n` holders; `acquire` waits (back-pressure) until a slot frees. */
export interface Limit {
  acquire(): Promise<void>;
  release(): void;
  readonly active: number;
}

export function createLimit(n: number): Limit {
  let active = 0;
  const waiting: Array<() => void> = [];
  return {
    get active() {
      return active;
    },
    async acquire() {
      if (active < n) {
        active++;
        return;
      }
      await new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next)
        next(); // the slot passes straight to the next waiter
      else active--;
    },
  };
}

/** Runs `fn` over `items` with at most `n` at once, in order of start; all settle before it returns. */
export async function forEachLimited<T>(
  items: readonly T[],
  n: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(n, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i], i);
    }
  });
  await Promise.all(lanes);
}
