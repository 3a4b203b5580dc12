/**
 * Resume: `wsi patches` is SIGKILLed at three points (right after the run starts, after its first rows,
 * and mid-way), then rerun to completion; rows and exported files must equal an uninterrupted run's.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { CMU_SLIDE, repoRoot, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const BIN = path.join(repoRoot, 'bin/wsi.js');

function args(db: string, exportDir: string): string[] {
  return [
    BIN,
    'patches',
    CMU_SLIDE,
    TCGA_SLIDE,
    '--db',
    db,
    '--mpp',
    '1.0',
    '--size',
    '128',
    '--assume-mpp',
    '0.5',
    '--export',
    exportDir,
    '--workers',
    '1',
    '--batch',
    '4',
    '--quiet',
  ];
}

function exitOf(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
}

/** Reads a count from the store while the child writes it (WAL: readers never block the writer). */
function query(db: string, sql: string): number {
  if (!existsSync(db)) return -1;
  try {
    const conn = new Database(db, { readonly: true, fileMustExist: true });
    try {
      return (conn.prepare(sql).get() as { n: number }).n;
    } finally {
      conn.close();
    }
  } catch {
    return -1; // tables not created yet
  }
}

/** Starts the command and SIGKILLs it as soon as `ready()` holds; returns what the store held then. */
async function killWhen(db: string, exportDir: string, ready: () => boolean): Promise<{ killed: boolean }> {
  const child = spawn(process.execPath, args(db, exportDir), { stdio: ['ignore', 'ignore', 'pipe'] });
  const exit = exitOf(child);
  let done = false;
  void exit.then(() => {
    done = true;
  });
  while (!done) {
    if (ready()) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const { signal } = await exit;
  return { killed: signal === 'SIGKILL' };
}

function rows(db: string): unknown[] {
  const conn = new Database(db, { readonly: true });
  try {
    return conn
      .prepare(
        'SELECT slide_id, x, y, width, height, level, mpp, tissue, label FROM patches ORDER BY slide_id, y, x',
      )
      .all();
  } finally {
    conn.close();
  }
}

function files(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = path.join(d, f);
      if (statSync(p).isDirectory()) walk(p);
      else out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

describe('resumable patches runs', () => {
  const dir = tempDir('resume');
  afterAll(() => dir.cleanup());

  it('ends with exactly the rows and files of an uninterrupted run after SIGKILLs at any point', async () => {
    const refDb = path.join(dir.path, 'ref.sqlite');
    const refOut = path.join(dir.path, 'ref-out');
    const reference = exitOf(
      spawn(process.execPath, args(refDb, refOut), { stdio: ['ignore', 'ignore', 'pipe'] }),
    );

    const db = path.join(dir.path, 'r.sqlite');
    const out = path.join(dir.path, 'out');
    const patchCount = () => query(db, 'SELECT COUNT(*) AS n FROM patches');
    // 1: right after the run is registered, before any patch.
    const k1 = await killWhen(db, out, () => query(db, 'SELECT COUNT(*) AS n FROM runs') >= 1);
    expect(k1.killed).toBe(true);
    // 2: after the first rows are in.
    const k2 = await killWhen(db, out, () => patchCount() >= 1);
    expect(k2.killed).toBe(true);
    const afterSecond = patchCount();
    // 3: mid-way through the rest.
    const k3 = await killWhen(db, out, () => patchCount() >= afterSecond + 40);
    expect(k3.killed).toBe(true);
    const beforeFinal = patchCount();

    const ref = await reference;
    expect(ref.code, ref.stderr).toBe(0);
    const total = rows(refDb).length;
    expect(total).toBeGreaterThan(100);
    expect(beforeFinal).toBeLessThan(total); // the kills really interrupted the work

    const final = await exitOf(
      spawn(process.execPath, args(db, out), { stdio: ['ignore', 'ignore', 'pipe'] }),
    );
    expect(final.code, final.stderr).toBe(0);
    expect(rows(db)).toEqual(rows(refDb));
    const conn = new Database(db, { readonly: true });
    const run = conn.prepare('SELECT status, attempts FROM runs').all() as Array<{
      status: string;
      attempts: number;
    }>;
    const marks = conn.prepare("SELECT COUNT(*) AS n FROM run_slides WHERE status = 'done'").get() as {
      n: number;
    };
    conn.close();
    expect(run).toEqual([{ status: 'done', attempts: 4 }]);
    expect(marks.n).toBe(2);
    const got = files(out);
    expect(Object.keys(got).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(got).toEqual(files(refOut));
    expect(Object.keys(got)).toHaveLength(total + 1); // + index.csv
  });
});
