/** Pure parts of the viewer: Deep Zoom geometry, level choice, colour map, heatmap grid, semaphore, scale bar. */
import { describe, expect, it } from 'vitest';
import { colourOf, VIRIDIS } from '../pipeline/imaging/viridis.ts';
import type { LevelInfo } from '../pipeline/slide/types.ts';
import { formatMagnification, magnification, niceScaleBar } from '../viewer/client/scale.ts';
import { screenRequest } from '../viewer/server/app.ts';
import { chooseSlideLevel, dziXml, dzLevel, dzMaxLevel, planTile } from '../viewer/server/deepzoom.ts';
import { heatmapGrid, heatmapPixels } from '../viewer/server/heatmap.ts';
import type { HttpError } from '../viewer/server/http.ts';
import { createSemaphore, QueueFullError } from '../viewer/server/semaphore.ts';

const lvl = (width: number, height: number, downsample: number): LevelInfo => ({
  width,
  height,
  downsample,
  tileWidth: 256,
  tileHeight: 256,
});

describe('deep zoom geometry', () => {
  it('matches the Deep Zoom pyramid of CMU-1-Small-Region (2220×2967): 13 levels, 12×9 tiles at full size', () => {
    expect(dzMaxLevel(2220, 2967)).toBe(12);
    expect(dzLevel(2220, 2967, 12)).toMatchObject({ width: 2220, height: 2967, cols: 9, rows: 12, scale: 1 });
    expect(dzLevel(2220, 2967, 11)).toMatchObject({ width: 1110, height: 1484, scale: 2 });
    expect(dzLevel(2220, 2967, 0)).toMatchObject({ width: 1, height: 1, cols: 1, rows: 1 });
  });

  it('with OpenSlide’s 254 + 1 geometry, gives interior tiles 1 px of overlap on each side and clips edge tiles', () => {
    const levels = [lvl(2220, 2967, 1)];
    const g = { tileSize: 254, overlap: 1 };
    expect(dzLevel(2220, 2967, 12, g)).toMatchObject({ cols: 9, rows: 12 });
    const first = planTile(2220, 2967, levels, 12, 0, 0, g)!;
    expect([first.x, first.y, first.width, first.height]).toEqual([0, 0, 255, 255]);
    const inner = planTile(2220, 2967, levels, 12, 3, 4, g)!;
    expect([inner.x, inner.y, inner.width, inner.height]).toEqual([3 * 254 - 1, 4 * 254 - 1, 256, 256]);
    const last = planTile(2220, 2967, levels, 12, 8, 11, g)!;
    expect(last.width).toBe(2220 - (8 * 254 - 1));
    expect(last.height).toBe(2967 - (11 * 254 - 1));
    expect(dziXml(2220, 2967, 'jpeg', g)).toContain('Overlap="1" TileSize="254"');
  });

  it('by default uses 256 + 0 tiles, so full-resolution DZ tiles coincide with 256-px stored tiles', () => {
    const levels = [lvl(2220, 2967, 1)];
    expect(dzLevel(2220, 2967, 12)).toMatchObject({ cols: 9, rows: 12 });
    const inner = planTile(2220, 2967, levels, 12, 3, 4)!;
    expect([inner.x, inner.y, inner.readWidth, inner.readHeight, inner.width]).toEqual([
      768, 1024, 256, 256, 256,
    ]);
    const last = planTile(2220, 2967, levels, 12, 8, 11)!;
    expect([last.width, last.height]).toEqual([2220 - 2048, 2967 - 2816]);
    expect(dziXml(2220, 2967, 'png')).toContain('Format="png" Overlap="0" TileSize="256"');
  });

  it('refuses tiles outside the pyramid', () => {
    const levels = [lvl(2220, 2967, 1)];
    expect(planTile(2220, 2967, levels, 13, 0, 0)).toBeUndefined();
    expect(planTile(2220, 2967, levels, 12, 9, 0)).toBeUndefined();
    expect(planTile(2220, 2967, levels, 12, 0, 12)).toBeUndefined();
    expect(planTile(2220, 2967, levels, -1, 0, 0)).toBeUndefined();
  });

  it('reads from the coarsest slide level not coarser than the DZ scale (4× SVS pyramid, measured downsamples)', () => {
    const levels = [lvl(40000, 30000, 1), lvl(10000, 7500, 4.0001), lvl(2500, 1875, 16.003)];
    expect(chooseSlideLevel(levels, 1)).toBe(0);
    expect(chooseSlideLevel(levels, 2)).toBe(0);
    expect(chooseSlideLevel(levels, 4)).toBe(1);
    expect(chooseSlideLevel(levels, 8)).toBe(1);
    expect(chooseSlideLevel(levels, 16)).toBe(2);
    expect(chooseSlideLevel(levels, 1024)).toBe(2);
    // DZ level with scale 8 over slide level 1: a 256-px tile is read as 512 level-1 px.
    const max = dzMaxLevel(40000, 30000);
    const plan = planTile(40000, 30000, levels, max - 3, 1, 1)!;
    expect(plan.level).toBe(1);
    expect(plan.readWidth).toBe(512);
    expect(plan.width).toBe(256);
  });
});

describe('viridis', () => {
  it('has the matplotlib end points and rises monotonically in luminance (perceptual order)', () => {
    expect(colourOf(0)).toEqual([0x44, 0x01, 0x54]);
    expect(colourOf(1)).toEqual([0xfd, 0xe7, 0x25]);
    expect(colourOf(0.5)).toEqual([0x21, 0x91, 0x8c]);
    let prev = -1;
    for (let i = 0; i < 256; i++) {
      const y = 0.2126 * VIRIDIS[i * 3] + 0.7152 * VIRIDIS[i * 3 + 1] + 0.0722 * VIRIDIS[i * 3 + 2];
      expect(y).toBeGreaterThanOrEqual(prev);
      prev = y;
    }
  });
});

describe('heatmap grid', () => {
  it('puts one pixel per patch, centred on the patch, with alpha 0 where there is no patch', () => {
    const cells = [
      { x: 100, y: 50, width: 256, height: 256, value: 0 },
      { x: 356, y: 50, width: 256, height: 256, value: 1 },
      { x: 100, y: 562, width: 256, height: 256, value: 0.5 },
    ];
    const grid = heatmapGrid(cells, { lo: 0, hi: 1 })!;
    expect(grid).toMatchObject({ x: 100, y: 50, columns: 2, rows: 3, strideX: 256, strideY: 256 });
    const px = heatmapPixels(cells, grid);
    const at = (i: number, j: number) => [...px.subarray((j * 2 + i) * 4, (j * 2 + i) * 4 + 4)];
    expect(at(0, 0)).toEqual([0x44, 0x01, 0x54, 255]);
    expect(at(1, 0)).toEqual([0xfd, 0xe7, 0x25, 255]);
    expect(at(0, 2)).toEqual([...colourOf(0.5), 255]);
    expect(at(1, 1)[3]).toBe(0);
    expect(at(0, 1)[3]).toBe(0);
  });

  it('centres stride-sized pixels on overlapping patches (FCN grid: 96 px patches every 32 px)', () => {
    const cells = [0, 32, 64].map((x) => ({ x, y: 0, width: 96, height: 96, value: 0.3 }));
    const grid = heatmapGrid(cells)!;
    expect(grid.x).toBe(32);
    expect(grid.width).toBe(96);
    expect(grid.columns).toBe(3);
  });
});

describe('sparse patch samples', () => {
  it('paints the whole footprint of sparse large patches on a fine lattice (MIL bag from an FCN grid)', () => {
    // Three 272-px patches on a 32-px lattice, far apart: not three dots in a 40×40 grid.
    const cells = [
      { x: 0, y: 0, width: 272, height: 272, value: 0.2 },
      { x: 32 * 20, y: 0, width: 272, height: 272, value: 0.9 },
      { x: 32 * 5, y: 32 * 30, width: 272, height: 272, value: 0.5 },
    ];
    const grid = heatmapGrid(cells, { lo: 0, hi: 1 })!;
    expect(grid.mode).toBe('footprint');
    // Steps are exact divisors of the offsets (160 = gcd of 160 and 640; 240 divides 960, ≤ 272).
    expect([grid.x, grid.y, grid.strideX, grid.strideY]).toEqual([0, 0, 160, 240]);
    const px = heatmapPixels(cells, grid);
    const at = (lx: number, ly: number) => {
      const o = (Math.floor(ly / grid.strideY) * grid.columns + Math.floor(lx / grid.strideX)) * 4;
      return [...px.subarray(o, o + 4)];
    };
    expect(at(250, 200)).toEqual([...colourOf(0.2), 255]); // inside the first patch, far from its origin
    expect(at(32 * 20 + 260, 100)).toEqual([...colourOf(0.9), 255]);
    expect(at(32 * 5 + 10, 32 * 30 + 200)).toEqual([...colourOf(0.5), 255]);
    expect(at(32 * 15, 32 * 15)[3]).toBe(0); // between patches
    expect(grid.width).toBe(Math.ceil((32 * 20 + 272) / 160) * 160);
  });
});

describe('heatmap scale', () => {
  it('handles a whole-slide grid of 160,000 patches (no argument-spread limits)', () => {
    const cells = Array.from({ length: 400 * 400 }, (_, i) => ({
      x: (i % 400) * 224,
      y: Math.floor(i / 400) * 224,
      width: 224,
      height: 224,
      value: (i % 7) / 6,
    }));
    const grid = heatmapGrid(cells)!;
    expect([grid.columns, grid.rows, grid.min, grid.max]).toEqual([400, 400, 0, 1]);
    expect(heatmapPixels(cells, grid).length).toBe(400 * 400 * 4);
  });
});

describe('render semaphore', () => {
  it('runs at most `limit` tasks at once and refuses beyond a client’s queue bound', async () => {
    const sem = createSemaphore(2, 1);
    let running = 0;
    let peak = 0;
    const release: (() => void)[] = [];
    const task = () =>
      sem.run(async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => release.push(r));
        running--;
      }, 'a');
    const a = task();
    const b = task();
    const c = task();
    await expect(task()).rejects.toBeInstanceOf(QueueFullError);
    expect(sem.active).toBe(2);
    expect(sem.waiting).toBe(1);
    while (release.length) {
      release.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    await Promise.all([a, b, c]);
    expect(peak).toBe(2);
  });

  it('serves waiting clients round-robin, so a flood from one client does not starve another', async () => {
    const sem = createSemaphore(1, 100);
    const order: string[] = [];
    let unblock!: () => void;
    const blocker = sem.run(
      () =>
        new Promise<void>((r) => {
          unblock = r;
        }),
      'flood',
    );
    const jobs = [
      ...Array.from({ length: 10 }, (_, i) => sem.run(async () => void order.push(`flood${i}`), 'flood')),
      sem.run(async () => void order.push('other'), 'other'),
    ];
    unblock();
    await Promise.all([blocker, ...jobs]);
    expect(order.indexOf('other')).toBeLessThanOrEqual(1);
    expect(order.filter((o) => o.startsWith('flood'))).toEqual(
      Array.from({ length: 10 }, (_, i) => `flood${i}`),
    );
  });
});

describe('request screening', () => {
  const status = (method: string, url: string) => {
    try {
      screenRequest(method, url);
      return 200;
    } catch (err) {
      return (err as HttpError).status;
    }
  };
  it('refuses traversal in every spelling and non-GET methods', () => {
    expect(status('GET', '/api/slides')).toBe(200);
    expect(status('GET', '/slides/../etc/passwd')).toBe(400);
    expect(status('GET', '/slides/%2e%2e/x')).toBe(400);
    expect(status('GET', '/slides/%2E%2e%2Fx')).toBe(400);
    expect(status('GET', '/slides/a%2fb.dzi')).toBe(400);
    expect(status('GET', '/slides/a%5cb.dzi')).toBe(400);
    expect(status('GET', '/slides\\x')).toBe(400);
    expect(status('GET', '//etc/passwd')).toBe(400);
    expect(status('GET', '/a%00b')).toBe(400);
    expect(status('GET', `/${'a'.repeat(5000)}`)).toBe(400);
    expect(status('POST', '/api/slides')).toBe(405);
  });
});

describe('scale bar and magnification', () => {
  it('picks 1-2-5 lengths that fit and reports the magnification of the zoom', () => {
    // 0.5 µm/px at 1:1 → 160 px = 80 µm → a 50 µm bar of 100 px.
    expect(niceScaleBar(0.5, 160)).toEqual({ um: 50, px: 100, label: '50 µm' });
    expect(niceScaleBar(20, 160).label).toBe('2 mm');
    expect(formatMagnification(magnification(1, 20, 0.5)!)).toBe('20×');
    expect(formatMagnification(magnification(0.125, 20, 0.5)!)).toBe('2.5×');
    expect(formatMagnification(magnification(1, null, 0.25)!)).toBe('40×');
    expect(magnification(1, null, null)).toBeUndefined();
  });
});
