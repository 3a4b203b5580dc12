/**
 * The viewer shows a DICOM slide in Chromium: pathml_small_dicom.dcm registered like any slide, its
 * page loads every tile through the Deep Zoom routes with no page errors, and the pixels on screen at
 * level-0 points are the reader's pixels there (within the browser's resampling).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlide } from '../pipeline/slide/index.ts';
import { openStore, type Store, upsertSlide } from '../pipeline/store/index.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { slidesDir } from './helpers/paths.ts';

const CHROMIUM = '/usr/bin/chromium';
const PATHML = join(slidesDir, 'pathml_small_dicom.dcm');
let store: Store;
let viewer: RunningViewer;
let browser: Browser;
let page: Page;
let id: string;
const pageErrors: string[] = [];

describe.skipIf(!existsSync(CHROMIUM))('viewer in Chromium: a DICOM slide', () => {
  beforeAll(async () => {
    store = openStore(join(mkdtempSync(join(tmpdir(), 'wsi-viewer-dicom-e2e-')), 'v.sqlite'));
    const slide = await openSlide(PATHML);
    id = upsertSlide(store, slide);
    await slide.close();
    viewer = await startViewer({ store, openSlide: (p) => openSlide(p), port: 0, log: () => undefined });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await viewer?.close();
    store?.close();
  });

  it('loads all tiles of its page and shows the reader’s pixels', async () => {
    await page.goto(`${viewer.url}#/slide/${id}`);
    await page.waitForFunction(
      () => {
        const v = window.wsiViewer;
        return !!v && v.world.getItemCount() > 0 && v.world.getItemAt(0).getFullyLoaded();
      },
      undefined,
      { timeout: 60_000 },
    );
    expect(pageErrors).toEqual([]);
    // Level-0 points on tissue and background, mapped to the page, against the reader's 9×9 mean there.
    const points = [
      { x: 1618, y: 1319 },
      { x: 800, y: 700 },
      { x: 2400, y: 1900 },
    ];
    const onPage = await page.evaluate((pts) => {
      const v = window.wsiViewer!;
      const box = v.container.getBoundingClientRect();
      return pts.map((p) => {
        const q = v.viewport.pixelFromPoint(v.viewport.imageToViewportCoordinates(p.x, p.y), true);
        return { x: q.x + box.left, y: q.y + box.top };
      });
    }, points);
    const png = await page.screenshot();
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const slide = await openSlide(PATHML);
    try {
      // One screen pixel covers `scale` level-0 pixels: compare with the mean over that footprint.
      const [left, right] = await page.evaluate((w) => {
        const v = window.wsiViewer!;
        return [0, w].map(
          (x) => v.viewport.pixelFromPoint(v.viewport.imageToViewportCoordinates(x, 0), true).x,
        );
      }, slide.width);
      const scale = slide.width / (right - left);
      expect(scale).toBeGreaterThan(1);
      const half = Math.max(2, Math.round(scale));
      const seen: number[][] = [];
      for (const [i, p] of points.entries()) {
        const q = onPage[i];
        const o = (Math.round(q.y) * info.width + Math.round(q.x)) * info.channels;
        const screen = [data[o], data[o + 1], data[o + 2]];
        const r = await slide.readRegion({
          x: p.x - half,
          y: p.y - half,
          width: 2 * half + 1,
          height: 2 * half + 1,
          level: 0,
        });
        const mean = [0, 1, 2].map((c) => {
          let s = 0;
          for (let k = c; k < r.data.length; k += 3) s += r.data[k];
          return s / (r.data.length / 3);
        });
        for (let c = 0; c < 3; c++)
          expect(Math.abs(screen[c] - mean[c]), `point ${i} channel ${c}`).toBeLessThan(40);
        seen.push(screen);
      }
      // Tissue and background differ on screen: the comparison above is not trivially true.
      const spread = Math.max(...seen.map((v) => v[1])) - Math.min(...seen.map((v) => v[1]));
      expect(spread).toBeGreaterThan(40);
    } finally {
      await slide.close();
    }
  }, 120_000);
});
