/**
 * `wsi count` on a folder with corrupt images among good ones follows the stage runner's failure policy:
 * the good images are counted and written, each bad one is recorded with its named error, the command
 * exits 1 naming them, and after the files are replaced the same command counts only those.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runCount } from '../pipeline/commands/count.ts';
import { dataDir, tempDir } from './helpers/paths.ts';

const tmp = tempDir('count-failed-image');
afterAll(() => tmp.cleanup());

const vgg = (n: number) => path.join(dataDir, 'counting/vgg-cells', `${String(n).padStart(3, '0')}cell.png`);

async function count(argv: string[]): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += String(s);
    return true;
  });
  try {
    return { code: await runCount(argv), stderr };
  } finally {
    spy.mockRestore();
  }
}

describe('wsi count: a corrupt image among good ones', () => {
  it('counts the good ones, records and names the bad ones, and a rerun counts only the replaced files', async () => {
    const dir = path.join(tmp.path, 'images');
    mkdirSync(dir);
    copyFileSync(vgg(1), path.join(dir, 'a.png'));
    copyFileSync(vgg(2), path.join(dir, 'c.png'));
    // A truncated PNG (its header reads, its pixels do not) and a file that is no image at all.
    writeFileSync(path.join(dir, 'b.png'), readFileSync(vgg(3)).subarray(0, 3000));
    writeFileSync(path.join(dir, 'd.png'), 'not an image\n');
    const db = path.join(tmp.path, 'counts.sqlite');
    const out = path.join(tmp.path, 'counts.csv');
    const argv = [dir, '--out', out, '--db', db, '--method', 'watershed', '--workers', '1'];

    const first = await count(argv);
    expect(first.code).toBe(1);
    expect(first.stderr).toMatch(/2 of 4 images failed/);
    expect(first.stderr).toMatch(/b\.png: SlideFormatError: .*b\.png is not a readable image/);
    expect(first.stderr).toMatch(/d\.png: SlideFormatError: /);
    const csvImages = (file: string) =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\r\n')
        .slice(1)
        .map((l) => l.split(',')[0]);
    expect(csvImages(out)).toEqual(['a.png', 'c.png']);

    const s = new Database(db, { readonly: true });
    const failures = s.prepare('SELECT source, step, error FROM run_failures ORDER BY source').all() as {
      source: string;
      step: string;
      error: string;
    }[];
    expect(failures.map((f) => [path.basename(f.source), f.step])).toEqual([
      ['b.png', 'tasks'],
      ['d.png', 'open'],
    ]);
    expect(failures.every((f) => f.error.startsWith('SlideFormatError: '))).toBe(true);
    expect(s.prepare('SELECT status FROM runs').all()).toEqual([{ status: 'failed' }]);
    const goodCells = s
      .prepare('SELECT slide_id, min(rowid) AS lo, max(rowid) AS hi, count(*) AS n FROM cells GROUP BY 1')
      .all();
    expect(goodCells).toHaveLength(2);
    s.close();

    // Replace the bad files; the same command counts exactly those two and keeps the others' rows.
    copyFileSync(vgg(3), path.join(dir, 'b.png'));
    copyFileSync(vgg(4), path.join(dir, 'd.png'));
    const again = await count([...argv, '--quiet']);
    expect(again.code, again.stderr).toBe(0);
    expect(csvImages(out)).toEqual(['a.png', 'b.png', 'c.png', 'd.png']);
    const t = new Database(db, { readonly: true });
    expect(t.prepare('SELECT status, attempts FROM runs').all()).toEqual([{ status: 'done', attempts: 2 }]);
    expect(t.prepare('SELECT count(*) AS n FROM run_failures').get()).toEqual({ n: 0 });
    const cells = t
      .prepare('SELECT slide_id, min(rowid) AS lo, max(rowid) AS hi, count(*) AS n FROM cells GROUP BY 1')
      .all() as { slide_id: string }[];
    expect(cells).toHaveLength(4);
    for (const g of goodCells) expect(cells).toContainEqual(g); // the good images were not counted again
    // One count row per image and no cell twice: each image's count is its number of stored cells.
    const rows = t
      .prepare(
        'SELECT c.image, c.count, (SELECT count(*) FROM cells x WHERE x.run_id = c.run_id AND x.slide_id = c.slide_id) AS n FROM counts c ORDER BY 1',
      )
      .all() as { image: string; count: number; n: number }[];
    expect(rows.map((r) => r.image)).toEqual(['a.png', 'b.png', 'c.png', 'd.png']);
    for (const r of rows) expect(r.count).toBe(r.n);
    t.close();
  }, 120_000);
});
