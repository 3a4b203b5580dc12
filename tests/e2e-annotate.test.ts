/**
 * End-to-end in headless Chromium: drawing annotations on the slide page (polygon, rectangle, point; kept
 * across reloads; class edited; deleted; exported by `wsi export annotations`), writes refused from another
 * origin and malformed bodies answered 400, and the viewer fixes: a slide counted with --region stays under
 * Slides, plate fields are grouped under their plate, and many cells draw as a density layer at low zoom and
 * as markers only when zoomed in.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../pipeline/cli.ts';
import { openSlide } from '../pipeline/slide/index.ts';
import { insertCells, upsertCount } from '../pipeline/store/counting-queries.ts';
import { beginRun, finishRun, markSlideDone } from '../pipeline/store/index.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { buildViewerFixture, REPO_ROOT, type ViewerFixture } from './fixtures/viewer-fixtures.ts';
import { CHROMIUM, openWatchedPage } from './helpers/chromium.ts';

const ARTIFACTS = join(REPO_ROOT, 'out/test-artifacts');
const tmp = mkdtempSync(join(tmpdir(), 'wsi-e2e-annotate-'));
let fx: ViewerFixture;
let viewer: RunningViewer;
let browser: Browser;
let page: Page;
let regionRun: number;
let other: Server;
let pageErrors: string[] = [];

beforeAll(async () => {
  fx = await buildViewerFixture(join(tmp, 'v.sqlite'));
  // `wsi count CMU --region …` as slide-count writes it: a run naming the slide, a counts row without a
  // plate, and cells: here 20,000 spread over the slide, far too many to draw as markers at low zoom.
  const run = beginRun(fx.store, 'count', { slide: fx.cmuId, region: [0, 0, 2220, 2967], tissue: false });
  regionRun = run.runId;
  let s = 12345;
  const rnd = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const cells = Array.from({ length: 20_000 }, () => ({
    x: 10 + rnd() * 2200,
    y: 10 + rnd() * 2940,
    area: 60,
  }));
  fx.store.db.transaction(() => {
    insertCells(fx.store, regionRun, fx.cmuId, cells);
    upsertCount(fx.store, {
      runId: regionRun,
      slideId: fx.cmuId,
      image: 'CMU-1-Small-Region.svs',
      count: 20_000,
    });
    markSlideDone(fx.store, regionRun, fx.cmuId, 20_000);
  })();
  finishRun(fx.store, regionRun, { cells: 20_000 });
  viewer = await startViewer({
    store: fx.store,
    openSlide: (p) => openSlide(p),
    port: 0,
    log: () => undefined,
  });
  // Another origin: a page that tries to write to the viewer.
  other = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>other</title>');
  });
  await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
  ({ browser, page, pageErrors } = await openWatchedPage());
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  await new Promise((r) => other?.close(r));
  fx?.store.close();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `annotate-${name}.png`) });

async function settle(): Promise<void> {
  await page.waitForFunction(() => {
    const v = window.wsiViewer;
    if (!v || v.world.getItemCount() === 0) return false;
    const z = v.viewport.getZoom(true);
    return Math.abs(z - v.viewport.getZoom(false)) < 1e-6 * z && v.world.getItemAt(0).getFullyLoaded();
  });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
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

async function openCmu(query = ''): Promise<void> {
  await page.goto(`${viewer.url}#/slide/${fx.cmuId}${query}`);
  await page.waitForSelector('#viewer[data-open=true]');
  await page.waitForSelector('#viewer[data-annotations]');
  await settle();
}

const items = () =>
  page.$$eval('[data-testid=annotation-item]', (els) =>
    els.map((e) => ({
      id: e.getAttribute('data-id'),
      geometry: e.getAttribute('data-geometry'),
      label: e.getAttribute('data-label'),
    })),
  );

describe.skipIf(!existsSync(CHROMIUM))('annotations and viewer fixes in Chromium', () => {
  it('lists a slide counted with --region under Slides and plate fields only through their plate', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('[data-testid=slide-card]');
    const slides = await page.$$eval('[data-testid=slide-card]', (els) =>
      els.map((e) => e.getAttribute('data-name')),
    );
    expect(slides).toContain('CMU-1-Small-Region.svs');
    expect(await page.locator('[data-testid=image-card]').count()).toBe(0);
    const plates = await page.$$eval('[data-testid=plate-link]', (els) =>
      els.map((e) => e.textContent ?? ''),
    );
    expect(plates.length).toBeGreaterThan(0);
    expect(plates.join(' ')).toMatch(/\d+ fields/);
    await shot('1-list');
  });

  it('draws many cells as a density layer at low zoom and as markers when zoomed in', async () => {
    await openCmu(`?cells=${regionRun}`);
    await page.waitForSelector('#viewer[data-cells-mode=density]');
    expect(await page.textContent('[data-testid=cells-info]')).toContain('20,000 cells in view (density');
    await shot('2-cells-density');
    await page.click('[data-testid=preset-20]');
    await settle();
    await page.waitForSelector('#viewer[data-cells-mode=markers]');
    await shot('3-cells-markers');
  });

  it('draws a polygon, a rectangle and a point that survive a reload; edits and deletes them', async () => {
    await openCmu();
    const before = (await items()).length;
    await page.fill('[data-testid=author]', 'Dr E2E');
    await page.dispatchEvent('[data-testid=author]', 'change');
    await page.selectOption('[data-testid=draw-class]', 'tumour');
    await page.click('[data-testid=tool-polygon]');
    const pts = await toPage([
      [600, 700],
      [1400, 800],
      [1100, 1500],
    ]);
    for (const p of pts) await page.mouse.click(p.x, p.y);
    await page.mouse.click(pts[0].x + 2, pts[0].y + 1); // on the first vertex: closes
    await expect.poll(async () => (await items()).length).toBe(before + 1);
    await page.click('[data-testid=tool-rectangle]');
    const [r0, r1] = await toPage([
      [1600, 1800],
      [1900, 2100],
    ]);
    await page.mouse.move(r0.x, r0.y);
    await page.mouse.down();
    await page.mouse.move((r0.x + r1.x) / 2, (r0.y + r1.y) / 2);
    await page.mouse.move(r1.x, r1.y);
    await page.mouse.up();
    await expect.poll(async () => (await items()).length).toBe(before + 2);
    await page.selectOption('[data-testid=draw-class]', '');
    await page.fill('[data-testid=draw-custom]', 'mitosis');
    await page.click('[data-testid=tool-point]');
    const [pt] = await toPage([[500, 2000]]);
    await page.mouse.click(pt.x, pt.y);
    await expect.poll(async () => (await items()).length).toBe(before + 3);
    await settle();
    await shot('4-drawn');

    await page.reload();
    await page.waitForSelector('#viewer[data-open=true]');
    await page.waitForSelector(`#viewer[data-annotations="${before + 3}"]`);
    const drawn = (await items()).slice(before);
    expect(drawn.map((d) => `${d.geometry}:${d.label}`)).toEqual([
      'polygon:tumour',
      'rectangle:tumour',
      'point:mitosis',
    ]);
    // The author was kept by the browser.
    expect(await page.inputValue('[data-testid=author]')).toBe('Dr E2E');
    const stored = fx.store.db
      .prepare("SELECT geometry, coords_json, author FROM annotations WHERE source = 'viewer' ORDER BY id")
      .all() as { geometry: string; coords_json: string; author: string }[];
    const poly = JSON.parse(stored[0].coords_json) as number[][];
    expect(poly).toHaveLength(3);
    expect(Math.abs(poly[1][0] - 1400)).toBeLessThan(8);
    expect(stored.every((r) => r.author === 'Dr E2E')).toBe(true);

    // Edit: the polygon becomes 'normal'; delete the point.
    const polyItem = page.locator(`[data-testid=annotation-item][data-id="${drawn[0].id}"]`);
    await polyItem.locator('[data-testid=annotation-class]').selectOption('normal');
    await expect.poll(async () => (await items()).find((i) => i.id === drawn[0].id)?.label).toBe('normal');
    await page
      .locator(`[data-testid=annotation-item][data-id="${drawn[2].id}"] [data-testid=annotation-delete]`)
      .click();
    await expect.poll(async () => (await items()).length).toBe(before + 2);
    await page.reload();
    await page.waitForSelector(`#viewer[data-annotations="${before + 2}"]`);
    expect((await items()).slice(before).map((d) => `${d.geometry}:${d.label}`)).toEqual([
      'polygon:normal',
      'rectangle:tumour',
    ]);
    await settle();
    await shot('5-edited');
    expect(pageErrors).toEqual([]);
  });

  it('exports the drawings with wsi export annotations', async () => {
    const out = join(tmp, 'export');
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(
        await main([
          'export',
          'annotations',
          '--db',
          join(tmp, 'v.sqlite'),
          '--slide',
          fx.cmuId,
          '--source',
          'viewer',
          '-o',
          out,
        ]),
      ).toBe(0);
    } finally {
      write.mockRestore();
    }
    const geo = JSON.parse(readFileSync(join(out, 'CMU-1-Small-Region.annotations.geojson'), 'utf8'));
    expect(geo.features.map((f: { geometry: { type: string } }) => f.geometry.type)).toEqual([
      'Polygon',
      'Polygon',
    ]);
    expect(geo.features[0].properties.classification.name).toBe('normal');
    expect(geo.features[0].properties.metadata.author).toBe('Dr E2E');
    expect(readFileSync(join(out, 'CMU-1-Small-Region.annotations.xml'), 'utf8')).toContain(
      'Type="Rectangle"',
    );
  });

  it('refuses a write from another origin and answers a malformed body with 400, changing nothing', async () => {
    const count = () =>
      (fx.store.db.prepare('SELECT COUNT(*) AS n FROM annotations').get() as { n: number }).n;
    const before = count();
    const body = JSON.stringify({ geometry: 'point', label: 'tumour', author: 'x', coords: [[10, 10]] });
    const target = `${viewer.url}api/slides/${fx.cmuId}/annotations`;
    await page.goto(`http://127.0.0.1:${(other.address() as AddressInfo).port}/`);
    const cross = await page.evaluate(
      async ([url, b]) => {
        const out: string[] = [];
        try {
          const r = await fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: b,
          });
          out.push(`json ${r.status}`);
        } catch {
          out.push('json blocked');
        }
        // A "simple" request skips the preflight: the server itself must refuse it.
        await fetch(url, {
          method: 'POST',
          mode: 'no-cors',
          headers: { 'Content-Type': 'text/plain' },
          body: b,
        }).catch(() => undefined);
        return out;
      },
      [target, body] as const,
    );
    expect(cross).toEqual(['json blocked']);
    expect(count()).toBe(before);

    await page.goto(viewer.url);
    const malformed = await page.evaluate(async (url) => {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"geometry": "point", ',
      });
      const r2 = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ geometry: 'polygon', label: 'tumour', author: 'x', coords: [[1, 1]] }),
      });
      return [r.status, r2.status];
    }, target);
    expect(malformed).toEqual([400, 400]);
    expect(count()).toBe(before);
  });
});
