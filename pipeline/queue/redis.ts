/**
 * Our own Redis connections (besides BullMQ's): ioredis, retrying every command across reconnects
 * (`maxRetriesPerRequest: null`, as BullMQ requires), so a Redis restart delays work and loses none.
 */
import { Redis } from 'ioredis';
import { ConfigError } from '../errors.ts';
import { connectionOf, type RedisAddress } from './names.ts';

export type RedisClient = Redis;

export function redisClient(address: RedisAddress): Redis {
  const client = new Redis(connectionOf(address));
  client.on('error', () => {}); // it reconnects on its own; commands wait for it
  return client;
}

/** Resolves once the client is connected; a one-line ConfigError (and the client closed) after `ms`. */
export async function whenReady(client: Redis, url: string, ms: number): Promise<void> {
  if (client.status === 'ready') return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      new Promise<void>((resolve) => client.once('ready', () => resolve())),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new ConfigError(`cannot reach Redis at ${url} (is redis-server running?)`)),
          ms,
        );
      }),
    ]);
  } catch (err) {
    client.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}
