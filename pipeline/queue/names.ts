/** Names shared by the submitter, the workers and `wsi queue status`: one BullMQ queue for every task kind. */
import { ConfigError } from '../errors.ts';

export const QUEUE_NAME = 'tasks';
export const QUEUE_PREFIX = 'wsi';
/** A worker's liveness record: JSON, refreshed every heartbeat, expires when the worker stops. */
export const WORKER_KEY = (name: string) => `wsi:worker:${name}`;
export const WORKER_PATTERN = 'wsi:worker:*';
/** Per-run counters (added, reused, retried, started, completed, failed) and the run's label. */
export const RUN_KEY = (tag: string) => `wsi:run:${tag}`;
export const RUNS_SET = 'wsi:runs';
export const jobKey = (id: string) => `${QUEUE_PREFIX}:${QUEUE_NAME}:${id}`;
export const stateKey = (state: string) => `${QUEUE_PREFIX}:${QUEUE_NAME}:${state}`;

export interface RedisAddress {
  host: string;
  port: number;
  db?: number;
  password?: string;
  username?: string;
  url: string;
}

export function parseQueueUrl(url: string): RedisAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(`--queue must be redis://HOST:PORT, got '${url}'`);
  }
  if (u.protocol !== 'redis:') throw new ConfigError(`--queue must be redis://HOST:PORT, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  if (db && !/^\d+$/.test(db)) throw new ConfigError(`--queue database must be a number, got '${db}'`);
  return {
    host: u.hostname || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db: db ? Number(db) : undefined,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    url,
  };
}

/** ioredis options for an address, BullMQ's and ours: reconnect every 0.5–5 s and retry commands, forever. */
export function connectionOf(a: RedisAddress) {
  return {
    maxRetriesPerRequest: null,
    host: a.host,
    port: a.port,
    db: a.db,
    username: a.username,
    password: a.password,
    retryStrategy: (times: number) => Math.min(500 * times, 5000),
  };
}
