/**
 * Moving the vertices of drawn annotations. In headless Chromium: draw a polygon and a point, select the
 * polygon (✎), drag one vertex, reload: the vertex is stored where it was dropped (level-0 px, within two
 * screen pixels at the zoom used); the point moves too; `wsi export annotations` carries the moved geometry.
 * Through the API: PATCH keeps the kind and class, refuses another origin (403), and answers a malformed
 * body with 400, changing nothing.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../pipeline/cli.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { openStore, type Store, upsertSlide } from '../pipeline/store/index.ts';
import { moveVertex } from '../viewer/client/vertex-edit.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { CMU_PATH, REPO_ROOT } from './fixtures/viewer-fixtures.ts';
import { CHROMIUM, openWatchedPage } from './helpers/chromium.ts';

const ARTIFACTS = join(REPO_ROOT, 'out/test-artifacts');
const tmp = mkdtempSync(join(tmpdir(), 'wsi-e2e-annotate-edit-'));
const db = join(tmp, 'v.sqlite');
let store: Store;
let slideId: string;
let viewer: RunningViewer;

beforeAll(async () => {
  store = openStore(db);
  const s = await openSlide(CMU_PATH);
  slideId = upsertSlide(store, s);
  await s.close();
  viewer = await startViewer({ store, openSlide: (p) => openSlide(p), port: 0, log: () => undefined });
}, 60_000);

afterAll(async () => {
  await viewer?.close();
  store?.close();
});

interface Row {
  id: number;
  geometry: string;
  group_name: string;
  coords_json: string;
  author: string;
  updated_at: string;
}
const rows = () =>
  store.db
    .prepare(
      "SELECT id, geometry, group_name, coords_json, author, updated_at FROM annotations WHERE source = 'viewer' ORDER BY id",
    )
    .all() as Row[];
const coordsOf = (r: Row) => JSON.parse(r.coords_json) as [number, number][];

/** A raw request with a chosen Origin (fetch in Node would not let us set it). */
function send(method: string, path: string, body: string, origin = `http://127.0.0.1:${viewer.port}`) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: viewer.port,
        method,
        path,
        headers: {
          Origin: origin,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('moveVertex', () => {
  it('moves a polygon vertex, a point, and a rectangle corner against the opposite corner', () => {
    const tri: [number, number][] = [
      [0, 0],
      [10, 0],
      [5, 8],
    ];
    expect(moveVertex('polygon', tri, 1, [12, 3]).coords).toEqual([
      [0, 0],
      [12, 3],
      [5, 8],
    ]);
    expect(moveVertex('point', [[4, 4]], 0, [9, 1])).toEqual({ coords: [[9, 1]], index: 0 });
    const rect: [number, number][] = [
      [10, 10],
      [20, 10],
      [20, 30],
      [10, 30],
    ];
    // Dragging the top-right corner past the left edge: the rectangle flips, still axis-aligned.
    const r = moveVertex('rectangle', rect, 1, [5, 12]);
    expect(r.coords).toEqual([
      [5, 12],
      [10, 12],
      [10, 30],
      [5, 30],
    ]);
    expect(r.coords[r.index]).toEqual([5, 12]);
  });
});

describe('PATCH /api/slides/:id/annotations/:n', () => {
  it('moves vertices keeping kind and class; refuses other origins and malformed bodies, changing nothing', async () => {
    const base = `/api/slides/${slideId}/annotations`;
    const created = await send(
      'POST',
      base,
      JSON.stringify({
        geometry: 'rectangle',
        label: 'exclude',
        author: 'api',
        coords: [
          [100, 100],
          [300, 100],
          [300, 200],
          [100, 200],
        ],
      }),
    );
    expect(created.status).toBe(201);
    const id = (JSON.parse(created.text) as { id: number }).id;
    const path = `${base}/${id}`;
    const moved = [
      [100, 100],
      [350, 100],
      [350, 260],
      [100, 260],
    ];
    const ok = await send('PATCH', path, JSON.stringify({ coords: moved, author: 'editor' }));
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({
      geometry: 'rectangle',
      label: 'exclude',
      coords: moved,
      author: 'editor',
    });
    const before = rows().find((r) => r.id === id)!;
    const bad: [string, string][] = [
      ['{"coords": [[1, 1]', 'not JSON'],
      [JSON.stringify({ coords: moved.slice(0, 3), author: 'x' }), 'rectangle with 3 vertices'],
      [
        JSON.stringify({
          coords: [
            [100, 100],
            [350, 110],
            [350, 260],
            [100, 260],
          ],
          author: 'x',
        }),
        'not axis-aligned',
      ],
      [JSON.stringify({ coords: [[1e9, 5], ...moved.slice(1)], author: 'x' }), 'outside the slide'],
      [JSON.stringify({ coords: moved, author: 'x', geometry: 'point' }), 'changes the kind'],
      [JSON.stringify({ coords: moved, author: 'x', label: 'tumour' }), 'changes the class'],
      [JSON.stringify({ coords: moved }), 'no author'],
      [JSON.stringify([moved]), 'not an object'],
    ];
    for (const [body, why] of bad) expect((await send('PATCH', path, body)).status, why).toBe(400);
    expect(
      (await send('PATCH', path, JSON.stringify({ coords: moved, author: 'x' }), 'http://evil.example'))
        .status,
    ).toBe(403);
    expect(
      (await send('PATCH', `${base}/999999`, JSON.stringify({ coords: moved, author: 'x' }))).status,
    ).toBe(404);
    expect(rows().find((r) => r.id === id)).toEqual(before);
    expect((await send('DELETE', path, '')).status).toBe(200);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('vertex editing in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let pageErrors: string[] = [];

  beforeAll(async () => {
    ({ browser, page, pageErrors } = await openWatchedPage());
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  async function settle(): Promise<void> {
    await page.waitForFunction(() => {
      const v = window.wsiViewer;
      if (!v || v.world.getItemCount() === 0) return false;
      const z = v.viewport.getZoom(true);
      return Math.abs(z - v.viewport.getZoom(false)) < 1e-6 * z && v.world.getItemAt(0).getFullyLoaded();
    });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  }

  async function open(): Promise<void> {
    await page.goto(`${viewer.url}#/slide/${slideId}`);
    await page.waitForSelector('#viewer[data-open=true]');
    await page.waitForSelector('#viewer[data-annotations]');
    await settle();
  }

  function toPage(points: [number, number][]): Promise<{ x: number; y: number }[]> {
    return page.evaluate((pts) => {
      const v = window.wsiViewer!;
      const box = v.container.getBoundingClientRect();
      return pts.map(([x, y]) => {
        const q = v.viewport.pixelFromPoint(v.viewport.imageToViewportCoordinates(x, y), true);
        return { x: q.x + box.left, y: q.y + box.top };
      });
    }, points);
  }

  /** Level-0 pixels per CSS pixel at the current zoom. */
  const level0PerScreenPx = async () => {
    const [a, b] = await toPage([
      [0, 0],
      [1000, 0],
    ]);
    return 1000 / (b.x - a.x);
  };

  async function drag(from: { x: number; y: number }, to: { x: number; y: number }): Promise<void> {
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    for (let k = 1; k <= 5; k++)
      await page.mouse.move(from.x + ((to.x - from.x) * k) / 5, from.y + ((to.y - from.y) * k) / 5);
    await page.mouse.up();
  }

  async function handleCentre(index: number): Promise<{ x: number; y: number }> {
    const box = (await page.locator(`[data-testid=vertex-handle][data-index="${index}"]`).boundingBox())!;
    return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  }

  it('drags a polygon vertex and a point; the moves survive a reload and reach wsi export annotations', async () => {
    await open();
    await page.fill('[data-testid=author]', 'Dr Edit');
    await page.dispatchEvent('[data-testid=author]', 'change');
    await page.selectOption('[data-testid=draw-class]', 'tumour');
    await page.click('[data-testid=tool-polygon]');
    const pts = await toPage([
      [600, 700],
      [1400, 800],
      [1100, 1500],
    ]);
    for (const p of pts) await page.mouse.click(p.x, p.y);
    await page.mouse.click(pts[0].x + 1, pts[0].y + 1);
    await page.click('[data-testid=tool-point]');
    const [pt] = await toPage([[500, 2000]]);
    await page.mouse.click(pt.x, pt.y);
    await expect.poll(() => rows().length).toBe(2);
    const [poly, point] = rows();
    const drawn = coordsOf(poly);

    // Select the polygon and drag its second vertex to (1700, 1100).
    await page.locator(`[data-testid=annotation-edit][data-id="${poly.id}"]`).click();
    await page.waitForSelector('[data-testid=vertex-handle][data-index="2"]');
    const scale = await level0PerScreenPx();
    const start = await handleCentre(1);
    // The handle sits on the stored vertex.
    const [expectStart] = await toPage([drawn[1]]);
    expect(Math.hypot(start.x - expectStart.x, start.y - expectStart.y)).toBeLessThan(1);
    const [target] = await toPage([[1700, 1100]]);
    await drag(start, target);
    await expect.poll(() => coordsOf(rows()[0])[1][0]).not.toBe(drawn[1][0]);
    // Where it was dropped, within two screen pixels, the other vertices untouched, kind and class kept.
    const moved = coordsOf(rows()[0]);
    expect(Math.abs(moved[1][0] - 1700)).toBeLessThanOrEqual(2 * scale);
    expect(Math.abs(moved[1][1] - 1100)).toBeLessThanOrEqual(2 * scale);
    expect([moved[0], moved[2]]).toEqual([drawn[0], drawn[2]]);
    expect(rows()[0]).toMatchObject({ geometry: 'polygon', group_name: 'tumour', author: 'Dr Edit' });

    // Move the point: select it, drag its one handle.
    await page.locator(`[data-testid=annotation-edit][data-id="${point.id}"]`).click();
    await expect.poll(() => page.locator('[data-testid=vertex-handle]').count()).toBe(1);
    const [pointTarget] = await toPage([[800, 2300]]);
    await drag(await handleCentre(0), pointTarget);
    await expect.poll(() => coordsOf(rows()[1])[0][1]).not.toBe(coordsOf(point)[0][1]);
    const pointNow = coordsOf(rows()[1])[0];
    expect(Math.hypot(pointNow[0] - 800, pointNow[1] - 2300)).toBeLessThanOrEqual(2 * scale * Math.SQRT2);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('[data-testid=vertex-handle]').count()).toBe(0);

    // Reload: the page shows the moved outline (handles on the stored vertices).
    await page.reload();
    await page.waitForSelector('#viewer[data-annotations="2"]');
    await settle();
    await page.locator(`[data-testid=annotation-edit][data-id="${poly.id}"]`).click();
    await page.waitForSelector('[data-testid=vertex-handle][data-index="2"]');
    await page.screenshot({ path: join(ARTIFACTS, 'annotate-edit-vertices.png') });
    const after = await handleCentre(1);
    const [shouldBe] = await toPage([moved[1]]);
    expect(Math.hypot(after.x - shouldBe.x, after.y - shouldBe.y)).toBeLessThan(1);
    expect(Math.hypot(after.x - target.x, after.y - target.y)).toBeLessThanOrEqual(2);
    expect(pageErrors).toEqual([]);

    // The export carries the moved geometry.
    const out = join(tmp, 'export');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(
        await main([
          'export',
          'annotations',
          '--db',
          db,
          '--slide',
          slideId,
          '--source',
          'viewer',
          '-o',
          out,
        ]),
      ).toBe(0);
    } finally {
      write.mockRestore();
    }
    const geo = JSON.parse(readFileSync(join(out, 'CMU-1-Small-Region.annotations.geojson'), 'utf8')) as {
      features: { geometry: { type: string; coordinates: unknown } }[];
    };
    const polygon = geo.features.find((f) => f.geometry.type === 'Polygon')!;
    const ring = (polygon.geometry.coordinates as number[][][])[0];
    expect(ring).toContainEqual(moved[1]);
    expect(ring).not.toContainEqual(drawn[1]);
    const exportedPoint = geo.features.find((f) => f.geometry.type === 'Point')!;
    expect(exportedPoint.geometry.coordinates).toEqual(pointNow);
  });
});
