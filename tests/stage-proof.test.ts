/**
 * The stage runner's promises, end to end through `wsi` in child processes:
 *  - every stage killed (SIGKILL) mid-run and rerun ends with exactly the rows of an uninterrupted run,
 *    none twice;
 *  - a folder with one corrupt slide among good ones: the good ones finish, the command exits 1 naming the
 *    bad one, `wsi runs` lists it with its error, and once the file is replaced a rerun finishes only it.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../pipeline/models/backend.ts';
import { saveModel } from '../pipeline/models/model-io.ts';
import { newPatchClassifier, SMALL_ARCH } from '../pipeline/models/patch-classifier.ts';
import { CMU_SLIDE, dataDir, repoRoot, TCGA_SLIDE, tempDir } from './helpers/paths.ts';

const BIN = path.join(repoRoot, 'bin/wsi.js');
const tmp = tempDir('stage-proof');
const model = path.join(tmp.path, 'model');
const vgg = (n: number) => path.join(dataDir, 'counting/vgg-cells', `${String(n).padStart(3, '0')}cell.png`);
const IHC = path.join(dataDir, 'images/ihc.png');

beforeAll(async () => {
  await initBackend({ log: () => {} });
  const { model: m, meta } = newPatchClassifier(SMALL_ARCH, { mpp: 2, seed: 9 });
  await saveModel(model, m, { ...meta, training: { finishedAt: '2026-01-01T00:00:00Z', samples: 1 } });
  m.dispose();
});
afterAll(() => tmp.cleanup());

function wsi(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function query<T>(db: string, sql: string): T[] {
  const conn = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return conn.prepare(sql).all() as T[];
  } finally {
    conn.close();
  }
}

function doneSlides(db: string): number {
  if (!existsSync(db)) return 0;
  try {
    return query<{ n: number }>(db, "SELECT count(*) AS n FROM run_slides WHERE status = 'done'")[0].n;
  } catch {
    return 0; // tables not created yet
  }
}

/** Starts the command; SIGKILLs it once `ready()` holds. True when the kill interrupted it. */
async function killWhen(args: string[], ready: () => boolean): Promise<boolean> {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
  let exited = false;
  const exit = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on('exit', (_code, signal) => {
      exited = true;
      resolve(signal);
    }),
  );
  while (!exited) {
    if (ready()) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return (await exit) === 'SIGKILL';
}

/** Every row a stage writes, without run ids or times, sorted. */
const DUMP = [
  'SELECT s.name, p.x, p.y, p.width, p.height, p.level, p.mpp, p.tissue, p.label, p.score FROM patches p JOIN slides s ON s.id = p.slide_id ORDER BY 1, 2, 3',
  'SELECT s.name, r.score, r.label, r.details_json FROM slide_results r JOIN slides s ON s.id = r.slide_id ORDER BY 1',
  'SELECT image, plate, well, count, mean_area FROM counts ORDER BY 1',
  'SELECT s.name, c.x, c.y, c.area FROM cells c JOIN slides s ON s.id = c.slide_id ORDER BY 1, 2, 3',
  "SELECT s.name, rs.items FROM run_slides rs JOIN slides s ON s.id = rs.slide_id WHERE rs.status = 'done' ORDER BY 1",
];
const dump = (db: string) => DUMP.map((sql) => query(db, sql));

const CASES: Array<{ name: string; args: (db: string) => string[] }> = [
  {
    name: 'patches',
    args: (db) => [
      'patches',
      CMU_SLIDE,
      TCGA_SLIDE,
      IHC,
      '--db',
      db,
      '--mpp',
      '1',
      '--size',
      '128',
      '--assume-mpp',
      '0.5',
      '--quiet',
    ],
  },
  {
    name: 'tissue',
    args: (db) => ['tissue', CMU_SLIDE, TCGA_SLIDE, IHC, '--db', db, '--workers', '1', '--quiet'],
  },
  {
    name: 'infer',
    args: (db) => [
      'infer',
      CMU_SLIDE,
      TCGA_SLIDE,
      IHC,
      '--model',
      model,
      '--db',
      db,
      '--assume-mpp',
      '0.5',
      '--tile',
      '512',
      '--workers',
      '1',
      '--quiet',
    ],
  },
  {
    name: 'count images',
    args: (db) => [
      'count',
      vgg(1),
      vgg(2),
      vgg(3),
      vgg(4),
      '--out',
      `${db}.csv`,
      '--db',
      db,
      '--workers',
      '1',
      '--quiet',
    ],
  },
];

describe('every stage resumes after SIGKILL with the rows of an uninterrupted run', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const ref = path.join(tmp.path, `${c.name}-ref.sqlite`);
      const r = wsi(c.args(ref));
      expect(r.code, r.stderr).toBe(0);
      const db = path.join(tmp.path, `${c.name}-killed.sqlite`);
      const killed = await killWhen(c.args(db), () => doneSlides(db) >= 1);
      expect(killed).toBe(true);
      expect(doneSlides(db)).toBeLessThan(doneSlides(ref)); // the kill really interrupted the work
      const again = wsi(c.args(db));
      expect(again.code, again.stderr).toBe(0);
      expect(dump(db)).toEqual(dump(ref));
      expect(query(db, 'SELECT status, attempts FROM runs')).toEqual([{ status: 'done', attempts: 2 }]);
    });
  }
});

describe('a folder with one corrupt slide', () => {
  it('finishes the good slides, names the bad one, and a rerun after replacing it finishes only that one', () => {
    const folder = path.join(tmp.path, 'folder');
    mkdirSync(folder);
    symlinkSync(CMU_SLIDE, path.join(folder, 'a-good.svs'));
    const bad = path.join(folder, 'b-bad.svs');
    writeFileSync(bad, readFileSync(TCGA_SLIDE).subarray(0, 64 * 1024)); // truncated
    symlinkSync(IHC, path.join(folder, 'c-good.png'));
    const db = path.join(tmp.path, 'folder.sqlite');
    const args = [
      'patches',
      folder,
      '--db',
      db,
      '--mpp',
      '1',
      '--size',
      '128',
      '--assume-mpp',
      '0.5',
      '--quiet',
    ];
    const first = wsi(args);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain('1 of 3 slides failed');
    expect(first.stderr).toMatch(/b-bad\.svs: SlideFormatError: /);
    const good = query<{ name: string; finished_at: string }>(
      db,
      "SELECT s.name, rs.finished_at FROM run_slides rs JOIN slides s ON s.id = rs.slide_id WHERE rs.status = 'done' ORDER BY 1",
    );
    expect(good.map((g) => g.name)).toEqual(['a-good.svs', 'c-good.png']);
    const runs = wsi(['runs', '--db', db, '1']);
    expect(runs.code).toBe(0);
    expect(runs.stdout).toMatch(/failed\s+2 done, 1 failed/);
    expect(runs.stdout).toMatch(/b-bad\.svs \[open\]: SlideFormatError: /);

    copyFileSync(TCGA_SLIDE, bad); // the file replaced by a good copy
    const second = wsi(args);
    expect(second.code, second.stderr).toBe(0);
    const after = query<{ name: string; finished_at: string }>(
      db,
      "SELECT s.name, rs.finished_at FROM run_slides rs JOIN slides s ON s.id = rs.slide_id WHERE rs.status = 'done' ORDER BY 1",
    );
    expect(after.map((g) => g.name)).toEqual(['a-good.svs', 'b-bad.svs', 'c-good.png']);
    // The good slides were not redone: their done marks are the first run's.
    expect(after.filter((g) => g.name !== 'b-bad.svs')).toEqual(good);
    expect(wsi(['runs', '--db', db, '1']).stdout).not.toContain('failed slides');
    expect(query(db, 'SELECT status, attempts FROM runs')).toEqual([{ status: 'done', attempts: 2 }]);
  });
});
