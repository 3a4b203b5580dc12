/**
 * Queue test helpers: `wsi worker` child processes (short locks, so a killed worker's job comes back in
 * about two seconds), a static file server with byte ranges, and store readers that compare runs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import Database from 'better-sqlite3';
import { queueStatus } from '../../pipeline/queue/status.ts';
import { repoRoot } from './paths.ts';

export const BIN = path.join(repoRoot, 'bin/wsi.js');

export interface TestWorker {
  name: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  log(): string;
}

export function startWorker(url: string, name: string, extra: string[] = []): TestWorker {
  const child = spawn(
    process.execPath,
    [BIN, 'worker', '--queue', url, '--name', name, '--lock-ms', '2000', '--stalled-ms', '500', ...extra],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (d) => {
    log += String(d);
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { name, child, exited, log: () => log };
}

/** Waits until `n` workers have registered their heartbeat in Redis. */
export async function waitForWorkers(url: string, n: number, ms = 90_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if ((await queueStatus(url)).workers.length >= n) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${n} workers did not start in ${ms} ms`);
}

export async function stopWorkers(workers: TestWorker[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => w.exited));
}

/** Serves `files` (URL name → local path) with single byte ranges, like any static file server. */
export async function startStaticServer(
  files: Record<string, string>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const name = decodeURIComponent((req.url ?? '/').slice(1));
    const file = files[name];
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const size = statSync(file).size;
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!m) {
      res.writeHead(200, { 'Content-Length': size, 'Accept-Ranges': 'bytes' });
      createReadStream(file).pipe(res);
      return;
    }
    const start = Number(m[1]);
    const end = Math.min(size - 1, m[2] ? Number(m[2]) : size - 1);
    if (start >= size) {
      res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      return;
    }
    res.writeHead(206, {
      'Content-Length': end - start + 1,
      'Content-Range': `bytes ${start}-${end}/${size}`,
      'Accept-Ranges': 'bytes',
    });
    createReadStream(file, { start, end }).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export function query<T>(db: string, sql: string, ...params: unknown[]): T[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return conn.prepare(sql).all(...params) as T[];
  } finally {
    conn.close();
  }
}

/** Every patch row of the store, run ids left out, in a fixed order. */
export function patchRows(db: string): unknown[] {
  return query(
    db,
    `SELECT p.slide_id, p.x, p.y, p.width, p.height, p.level, p.mpp, p.tissue, p.label, p.score
     FROM patches p ORDER BY p.slide_id, p.y, p.x`,
  );
}

export function duplicatePatchRows(db: string): number {
  return query<{ n: number }>(
    db,
    "SELECT count(*) - count(DISTINCT run_id || slide_id || x || ',' || y) AS n FROM patches",
  )[0].n;
}

export function fileBytes(file: string): Buffer {
  return readFileSync(file);
}
