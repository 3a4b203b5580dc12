/**
 * End-to-end: the viewer in headless Debian Chromium (playwright-core) against a server on an
 * ephemeral port with real slides and fixture runs. Screenshots go to out/test-artifacts/.
 */
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlide } from '../pipeline/slide/index.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { buildViewerFixture, PATCH, REPO_ROOT, type ViewerFixture } from './fixtures/viewer-fixtures.ts';
import { CHROMIUM, openWatchedPage } from './helpers/chromium.ts';

const ARTIFACTS = join(REPO_ROOT, 'out/test-artifacts');

let fx: ViewerFixture;
let viewer: RunningViewer;
let browser: Browser;
let page: Page;
let pageErrors: string[];
const foreignRequests: string[] = [];
/** Console errors and failed requests (network errors and HTTP >= 400): the viewer must cause none. */
let consoleErrors: string[];

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  fx = await buildViewerFixture(join(mkdtempSync(join(tmpdir(), 'wsi-viewer-e2e-')), 'v.sqlite'));
  viewer = await startViewer({
    store: fx.store,
    openSlide: (p) => openSlide(p),
    port: 0,
    log: () => undefined,
  });
  ({ browser, page, pageErrors, consoleErrors } = await openWatchedPage());
  // Everything (scripts, styles, OpenSeadragon's images) must come from our server: no CDN.
  page.on('request', (r) => {
    if (!r.url().startsWith(viewer.url) && !r.url().startsWith('data:')) foreignRequests.push(r.url());
  });
});

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  fx?.store.close();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `viewer-${name}.png`) });

/** RGB of the page at CSS pixel (x, y) as rendered (all canvases composited). */
async function pixelsAt(points: { x: number; y: number }[]): Promise<number[][]> {
  const png = await page.screenshot();
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return points.map(({ x, y }) => {
    const o = (Math.round(y) * info.width + Math.round(x)) * info.channels;
    return [data[o], data[o + 1], data[o + 2]];
  });
}

/** Page coordinates of level-0 points of the open slide. */
function toPage(points: { x: number; y: number }[]): Promise<{ x: number; y: number }[]> {
  return page.evaluate((pts) => {
    const v = window.wsiViewer!;
    const box = v.container.getBoundingClientRect();
    return pts.map((p) => {
      const q = v.viewport.pixelFromPoint(v.viewport.imageToViewportCoordinates(p.x, p.y), true);
      return { x: q.x + box.left, y: q.y + box.top };
    });
  }, points);
}

async function waitForTiles(): Promise<void> {
  await page.waitForFunction(() => {
    const v = window.wsiViewer;
    return !!v && v.world.getItemCount() > 0 && v.world.getItemAt(0).getFullyLoaded();
  });
}

async function settle(): Promise<void> {
  await page.waitForFunction(() => {
    const v = window.wsiViewer;
    if (!v) return false;
    const z = v.viewport.getZoom(true);
    return Math.abs(z - v.viewport.getZoom(false)) < 1e-6 * z;
  });
  await waitForTiles();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

const umLabel = (text: string) => {
  const [v, unit] = text.split(' ');
  return Number(v) * (unit === 'mm' ? 1000 : 1);
};

describe.skipIf(!existsSync(CHROMIUM))('viewer in Chromium', () => {
  it('lists slides with thumbnails and metadata', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('[data-testid=slide-card]');
    const names = await page.$$eval('[data-testid=slide-card]', (els) =>
      els.map((e) => e.getAttribute('data-name')),
    );
    expect(names).toEqual(expect.arrayContaining(['CMU-1-Small-Region.svs', 'tcga-cr-7395-01a-01-ts1.svs']));
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('.thumb img')].every(
        (i) => i.complete && i.naturalWidth > 0,
      ),
    );
    expect(await page.locator('[data-name="tcga-cr-7395-01a-01-ts1.svs"]').textContent()).toContain(
      'MPP unknown',
    );
    await shot('1-list');
  });

  it('opens CMU-1-Small-Region, shows magnification and a scale bar consistent with the MPP, and zooms in', async () => {
    await page.click('[data-name="CMU-1-Small-Region.svs"]');
    await page.waitForSelector('#viewer[data-open=true]');
    await settle();
    const magBefore = Number((await page.textContent('[data-testid=magnification]'))!.replace('×', ''));
    const box = (await page.locator('#viewer').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 4; i++) {
      await page.mouse.wheel(0, -300);
      await page.waitForTimeout(120);
    }
    await settle();
    const magText = (await page.textContent('[data-testid=magnification]'))!;
    const mag = Number(magText.replace('×', ''));
    expect(mag).toBeGreaterThan(magBefore * 2);
    // Scale bar: its length in µm over its width in px must equal µm per screen pixel at this
    // magnification (0.499 µm/px at 20×), within the rounding of the displayed magnification.
    const label = (await page.textContent('[data-testid=scale-label]'))!;
    expect(label).toMatch(/^\d+(\.\d+)? (µm|mm)$/);
    const widthPx = await page.$eval('[data-testid=scale-bar]', (e) => e.getBoundingClientRect().width);
    expect(widthPx).toBeGreaterThan(40);
    expect(widthPx).toBeLessThanOrEqual(162);
    const umPerPx = umLabel(label) / widthPx;
    expect(umPerPx).toBeCloseTo((0.499 * 20) / mag, 1);
    await page.mouse.move(box.x + 200, box.y + 200);
    await expect.poll(() => page.textContent('[data-testid=cursor]')).toMatch(/^x \d.*µm, y \d.*µm$/);
    await shot('2-slide-zoomed');
  });

  it('draws the heatmap over tissue patches (pixels change) and leaves background holes untouched', async () => {
    await page.evaluate(() => window.wsiViewer!.viewport.goHome(true));
    await settle();
    const hot = [...fx.patches].sort((a, b) => b.score - a.score).slice(0, 5);
    const targets = await toPage(hot.map((p) => ({ x: p.x + PATCH / 2, y: p.y + PATCH / 2 })));
    const minX = Math.min(...fx.patches.map((p) => p.x));
    const minY = Math.min(...fx.patches.map((p) => p.y));
    const holes = fx.background.filter((b) => b.x > minX && b.y > minY).slice(0, 5);
    const holePts = await toPage(holes.map((b) => ({ x: b.x + PATCH / 2, y: b.y + PATCH / 2 })));
    const before = await pixelsAt([...targets, ...holePts]);
    await page.check('[data-testid=toggle-heatmap]');
    await page.waitForSelector('#viewer[data-heatmap=ready]');
    await settle();
    const after = await pixelsAt([...targets, ...holePts]);
    const delta = (a: number[], b: number[]) =>
      Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
    for (let i = 0; i < targets.length; i++)
      expect(delta(before[i], after[i]), `patch ${i}`).toBeGreaterThan(60);
    for (let i = targets.length; i < before.length; i++)
      expect(delta(before[i], after[i]), `hole ${i}`).toBeLessThan(6);
    // Crisp: inside one patch the colour is uniform (no smoothing between neighbouring patches).
    const p = hot[0];
    const inner = await toPage([
      { x: p.x + PATCH * 0.2, y: p.y + PATCH * 0.2 },
      { x: p.x + PATCH * 0.8, y: p.y + PATCH * 0.8 },
    ]);
    expect(inner[1].x - inner[0].x).toBeGreaterThan(4);
    expect(await page.locator('.legend').first().textContent()).toContain('tumour probability');
    await page.fill('[data-testid=heatmap-opacity]', '100');
    await settle();
    const [c0, c1] = await pixelsAt(inner);
    expect(delta(c0, c1)).toBeLessThan(6);
    await shot('3-heatmap');
  });

  it('keeps the heatmap aligned with the slide at 2× and 20×: a patch edge next to a hole falls where it should', async () => {
    const holes = new Set(fx.background.map((b) => `${b.x},${b.y}`));
    const edge = fx.patches.find((p) => holes.has(`${p.x + PATCH},${p.y}`));
    expect(edge, 'a tissue patch with background to its right').toBeDefined();
    const ex = edge!.x + PATCH;
    const ey = edge!.y + PATCH / 2;
    for (const mag of ['2', '20']) {
      await page.click(`[data-testid=preset-${mag}]`);
      await page.evaluate(
        ([x, y]) => {
          const v = window.wsiViewer!;
          v.viewport.panTo(v.viewport.imageToViewportCoordinates(x, y), true);
        },
        [ex, ey],
      );
      await settle();
      expect(await page.textContent('[data-testid=magnification]')).toBe(`${mag}×`);
      const [c] = await toPage([{ x: ex, y: ey }]);
      const probes = [
        { x: c.x - 4, y: c.y },
        { x: c.x + 4, y: c.y },
      ];
      await page.uncheck('[data-testid=toggle-heatmap]');
      await settle();
      const off = await pixelsAt(probes);
      await page.check('[data-testid=toggle-heatmap]');
      await page.waitForSelector('#viewer[data-heatmap=ready]');
      await settle();
      const on = await pixelsAt(probes);
      const delta = (a: number[], b: number[]) =>
        Math.abs(a[0] - b[0]) + Math.abs(a[1] - b[1]) + Math.abs(a[2] - b[2]);
      expect(delta(off[0], on[0]), `${mag}×: 4 px inside the patch`).toBeGreaterThan(60);
      expect(delta(off[1], on[1]), `${mag}×: 4 px inside the hole`).toBeLessThan(6);
      await shot(`3b-heatmap-edge-${mag}x`);
    }
  });

  it('flies to a top-attention patch when its gallery thumbnail is clicked', async () => {
    await page.waitForSelector('[data-testid=gallery-item] img');
    await page.click('[data-testid=gallery-item] >> nth=0');
    await settle();
    const best = [...fx.patches].sort((a, b) => b.attention - a.attention)[0];
    const [centre] = await toPage([{ x: best.x + PATCH / 2, y: best.y + PATCH / 2 }]);
    const box = (await page.locator('#viewer').boundingBox())!;
    expect(Math.abs(centre.x - (box.x + box.width / 2))).toBeLessThan(20);
    expect(Math.abs(centre.y - (box.y + box.height / 2))).toBeLessThan(20);
    await shot('4-attention');
  });

  it('outlines ground-truth annotations in slide coordinates', async () => {
    await page.evaluate(() => window.wsiViewer!.viewport.goHome(true));
    await page.fill('[data-testid=heatmap-opacity]', '45');
    await page.check('[data-testid=toggle-annotations]');
    await settle();
    const [a, b] = fx.annotation;
    const [mid] = await toPage([{ x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 }]);
    await expect
      .poll(async () => {
        const [rgb] = await pixelsAt([mid]);
        return rgb[0] > 180 && rgb[1] < 130;
      })
      .toBe(true);
    await shot('4b-annotations');
  });

  it('hides the scale bar with a note on a slide without MPP', async () => {
    await page.goto(`${viewer.url}#/slide/${fx.tcgaId}`);
    await page.waitForSelector('#viewer[data-open=true]');
    await settle();
    expect(await page.locator('[data-testid=scale-bar]').isHidden()).toBe(true);
    expect(await page.textContent('[data-testid=scale-note]')).toContain('does not record');
    await shot('5-no-mpp');
  });

  it('lays out a 384-well plate as 16×24', async () => {
    await page.goto(`${viewer.url}#/plate/${fx.countRunId}/P384`);
    await page.waitForSelector('[data-testid=plate-grid]');
    expect(await page.locator('[data-testid=well]').count()).toBe(384);
    const cols = await page.$eval(
      '[data-testid=plate-grid]',
      (e) => getComputedStyle(e).gridTemplateColumns.split(' ').length,
    );
    expect(cols).toBe(25);
    await shot('6b-plate-384');
  });

  it('shows the plate coloured by count, and a well opens its image with cell markers', async () => {
    await page.goto(viewer.url);
    await page.click('[data-testid=plate-link] >> nth=0');
    await page.waitForSelector('[data-testid=plate-grid]');
    expect(await page.locator('[data-testid=well]').count()).toBe(96);
    const colours = await page.$$eval(
      '[data-testid=well]',
      (els) => new Set(els.map((e) => getComputedStyle(e).backgroundColor)).size,
    );
    expect(colours).toBeGreaterThan(10);
    await shot('6-plate');
    await page.click('[data-well=A01]');
    await page.waitForSelector('#viewer[data-open=true]');
    const expected = fx.wellImages[0].dots.length;
    await expect.poll(() => page.textContent('[data-testid=cells-info]')).toBe(`${expected} cells in view`);
    expect(await page.isChecked('[data-testid=toggle-cells]')).toBe(true);
    await settle();
    // A marker sits on the first dot: its pixel is the marker colour.
    const d = fx.wellImages[0].dots[0];
    const [pt] = await toPage([{ x: d.x + 0.5, y: d.y + 0.5 }]);
    await shot('7-well-cells');
    const [rgb] = await pixelsAt([pt]);
    expect(rgb[0]).toBeLessThan(60);
    expect(rgb[1]).toBeGreaterThan(180);
    expect(rgb[2]).toBeGreaterThan(200);
    expect(pageErrors).toEqual([]);
    expect(foreignRequests).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
