/**
 * README screenshots from the demo's store (`make demo` → out/demo/results.sqlite), so they show what a user
 * of the demo sees: the slide list, a test slide with its tumour-probability heatmap, the attention heatmap
 * with the top-attention gallery, and the plate view; plus the plots the study wrote. Skipped (with a note)
 * when the demo has not been run. Writes docs/img/*.png.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlide } from '../pipeline/slide/index.ts';
import { openStore, type Store } from '../pipeline/store/db.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { repoRoot } from './helpers/paths.ts';

const CHROMIUM = '/usr/bin/chromium';
const DEMO = process.env.WSI_DEMO_OUT ?? join(repoRoot, 'out/demo');
const DB = join(DEMO, 'results.sqlite');
const REPORT = join(DEMO, 'study/report.json');
const IMG = join(repoRoot, 'docs/img');
const ready = existsSync(CHROMIUM) && existsSync(DB) && existsSync(REPORT);
if (!ready) console.warn(`e2e-screenshots: skipped (run 'make demo' first: ${DB} and ${REPORT})`);

let store: Store;
let viewer: RunningViewer;
let browser: Browser;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  if (!ready) return;
  mkdirSync(IMG, { recursive: true });
  store = openStore(DB);
  // Slide paths in the demo store are relative to the repository root.
  viewer = await startViewer({
    store,
    openSlide: (p) => openSlide(p.startsWith('/') ? p : join(repoRoot, p)),
    port: 0,
    log: () => undefined,
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 860 } });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  store?.close();
});

/** A screenshot as a palette PNG (about a third of the bytes; the README keeps them in git). */
async function shot(name: string): Promise<void> {
  await sharp(await page.screenshot())
    .png({ palette: true, quality: 90, effort: 8 })
    .toFile(join(IMG, name));
}

async function settle(): Promise<void> {
  await page.waitForFunction(() => {
    const v = window.wsiViewer;
    if (!v || v.world.getItemCount() === 0) return false;
    const z = v.viewport.getZoom(true);
    return Math.abs(z - v.viewport.getZoom(false)) < 1e-6 * z && v.world.getItemAt(0).getFullyLoaded();
  });
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

describe.skipIf(!ready)('README screenshots from the demo store', () => {
  it('slide list, heatmap, attention gallery and plate view', async () => {
    const report = JSON.parse(readFileSync(REPORT, 'utf8')) as {
      runs: { infer: number; mil: number };
      perSlide: { name: string; label: number; fcn: number; mil: number }[];
    };
    // The tumour test slide the FCN scores highest.
    const best = report.perSlide.filter((s) => s.label === 1).sort((a, b) => b.fcn - a.fcn)[0];
    const slide = store.db.prepare('SELECT id FROM slides WHERE name = ?').get(`${best.name}.tif`) as {
      id: string;
    };

    await page.goto(viewer.url);
    await page.waitForSelector('[data-testid=slide-card]');
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('.thumb img')].every(
        (i) => i.complete && i.naturalWidth > 0,
      ),
    );
    await shot('slides.png');

    await page.goto(`${viewer.url}#/slide/${slide.id}?heatmap=${report.runs.infer}:score`);
    await page.waitForSelector('#viewer[data-heatmap=ready]');
    // A short demo training leaves probabilities well below 1: stretch the colours over the values present.
    await page.check('[data-testid=heatmap-stretch]');
    await page.waitForSelector('#viewer[data-heatmap=ready]');
    await settle();
    await shot('heatmap.png');

    await page.goto(`${viewer.url}#/slide/${slide.id}?heatmap=${report.runs.mil}:attention`);
    await page.waitForSelector('#viewer[data-heatmap=ready]');
    await page.waitForSelector('[data-testid=gallery-item] img');
    await page.waitForFunction(() =>
      [...document.querySelectorAll<HTMLImageElement>('.gallery img')].every(
        (i) => i.complete && i.naturalWidth > 0,
      ),
    );
    await page.click('[data-testid=gallery-item] >> nth=0');
    await settle();
    await shot('attention.png');

    await page.goto(viewer.url);
    await page.click('[data-testid=plate-link] >> nth=0');
    await page.waitForSelector('[data-testid=plate-grid]');
    await shot('plate.png');

    // The study's own plots.
    copyFileSync(join(DEMO, 'study/roc.png'), join(IMG, 'study-roc.png'));
    const strip = join(DEMO, 'study/gallery', `${best.name}.png`);
    if (existsSync(strip)) copyFileSync(strip, join(IMG, 'study-attention-strip.png'));
    expect(errors).toEqual([]);
  }, 180_000);
});
