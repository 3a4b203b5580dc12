import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseRegion, tileGrid } from '../pipeline/counting/slide-count.ts';
import { ConfigError } from '../pipeline/errors.ts';

const run = promisify(execFile);
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const slide = path.resolve(repoRoot, '../shared/data/slides/CMU-1-Small-Region.svs');
const wsi = path.join(repoRoot, 'bin/wsi.js');

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

  const cellsOf = (db: string) => {
    const d = new Database(db, { readonly: true });
    try {
      return d.prepare('SELECT x, y FROM cells').all() as { x: number; y: number }[];
    } finally {
      d.close();
    }
  };

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
      const cells = cellsOf(db);
      expect(cells.every((c) => c.x >= 512 && c.x < 1024 && c.y >= 1024 && c.y < 1536)).toBe(true);
      counts.push(cells.length);
    }
    expect(counts[0]).toBeGreaterThan(20);
    // Tile seams with a 32 px margin: the 4-tile count stays within 10% of the 1-tile count.
    expect(Math.abs(counts[1] - counts[0])).toBeLessThanOrEqual(Math.ceil(0.1 * counts[0]));
  });
});
