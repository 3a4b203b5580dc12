import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRegion, tileGrid } from '../pipeline/counting/slide-count.ts';
import { ConfigError } from '../pipeline/errors.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { detectTissue, tissueFraction } from '../pipeline/tissue/index.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const slide = path.resolve(repoRoot, '../shared/data/slides/CMU-1-Small-Region.svs');
const wsi = path.join(repoRoot, 'bin/wsi.js');

/** Cells and per-slide counts a `wsi count <slide>` run left in its store. */
function rows(db: string) {
  const d = new Database(db, { readonly: true });
  try {
    const cells = d.prepare('SELECT x, y FROM cells').all() as { x: number; y: number }[];
    const counts = d.prepare('SELECT count FROM counts').all() as { count: number }[];
    return { cells, counts };
  } finally {
    d.close();
  }
}

describe('region parsing and tiling', () => {
  it('covers a region with cropped edge tiles and refuses regions outside the slide', () => {
    const tiles = tileGrid({ x: 100, y: 50, width: 600, height: 300 }, 256);
    expect(tiles.length).toBe(6);
    expect(tiles.reduce((s, t) => s + t.width * t.height, 0)).toBe(600 * 300);
    expect(parseRegion('1,2,3,4', 10, 10)).toEqual({ x: 1, y: 2, width: 3, height: 4 });
    expect(() => parseRegion('0,0,20,5', 10, 10)).toThrow(ConfigError);
    expect(() => parseRegion('a,b', 10, 10)).toThrow(/x,y,w,h/);
  });
});

describe('wsi count <slide> --region (CMU-1-Small-Region, 20×)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wsi-slide-count-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('counts each nucleus once whatever the tiling, inside the region, into the store', async () => {
    const region = '512,1024,512,512';
    const counts: number[] = [];
    for (const tile of ['512', '256']) {
      const db = path.join(dir, `t${tile}.sqlite`);
      await run(
        'node',
        [wsi, 'count', slide, '--region', region, '--tile', tile, '--db', db, '--workers', '2', '--quiet'],
        {
          cwd: repoRoot,
        },
      );
      const { cells } = rows(db);
      expect(cells.every((c) => c.x >= 512 && c.x < 1024 && c.y >= 1024 && c.y < 1536)).toBe(true);
      counts.push(cells.length);
    }
    expect(counts[0]).toBeGreaterThan(20);
    // Tile seams with a 32 px margin: the 4-tile count stays within 10% of the 1-tile count.
    expect(Math.abs(counts[1] - counts[0])).toBeLessThanOrEqual(Math.ceil(0.1 * counts[0]));
  });
});

describe('wsi count <slide> --tissue (CMU-1-Small-Region)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'wsi-slide-tissue-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const args = (db: string) => [wsi, 'count', slide, '--tissue', '--tile', '256', '--db', db, '--quiet'];

  it('counts nuclei only in tiles with tissue, and a killed run resumes without duplicate cells', async () => {
    const full = path.join(dir, 'full.sqlite');
    await run('node', [...args(full), '--workers', '2'], { cwd: repoRoot });
    const done = rows(full);
    expect(done.cells.length).toBeGreaterThan(500);
    expect(done.counts).toEqual([{ count: done.cells.length }]);
    // Every cell lies in a 256 px tile that the tissue mask covers (≥ 5%): none on the glass.
    const s = await openSlide(slide);
    const mask = await detectTissue(s);
    await s.close();
    const tileHasTissue = new Map<string, boolean>();
    for (const c of done.cells) {
      const tx = Math.floor(c.x / 256) * 256;
      const ty = Math.floor(c.y / 256) * 256;
      const key = `${tx},${ty}`;
      if (!tileHasTissue.has(key)) {
        const rect = { x: tx, y: ty, width: Math.min(256, 2220 - tx), height: Math.min(256, 2967 - ty) };
        tileHasTissue.set(key, tissueFraction(mask, rect) >= 0.05);
      }
      expect(tileHasTissue.get(key), `cell at ${c.x},${c.y}`).toBe(true);
    }

    // Kill a second run once some tiles' cells are in its store, then run the same command again.
    const killed = path.join(dir, 'killed.sqlite');
    const child = spawn('node', [...args(killed), '--workers', '1'], { cwd: repoRoot, stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 50));
      let partial = 0;
      try {
        partial = rows(killed).cells.length;
      } catch {
        // the store does not exist yet
      }
      if (partial > 0) break;
    }
    child.kill('SIGKILL');
    await exited;
    await run('node', [...args(killed), '--workers', '2'], { cwd: repoRoot });
    const resumed = rows(killed);
    expect(resumed.cells.length).toBe(done.cells.length);
    expect(resumed.counts).toEqual([{ count: done.cells.length }]);
    const key = (c: { x: number; y: number }) => `${c.x.toFixed(1)},${c.y.toFixed(1)}`;
    expect(new Set(resumed.cells.map(key)).size).toBe(resumed.cells.length);
  });
});
