/**
 * End-to-end in headless Debian Chromium: the out-of-distribution warning and the attention gallery's
 * saliency, over a store written by the real MIL stages (tests/fixtures/mil-ood-fixture.ts). The slide
 * rendered 4× smaller than its stated µm/px carries a badge on the list and, on its page, the reason beside
 * the MIL run's probability, heatmap and attention; the held-out slide carries neither; every
 * top-attention patch has its gradient and Grad-CAM images. Screenshots go to out/test-artifacts/.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSlide } from '../pipeline/slide/index.ts';
import { type RunningViewer, startViewer } from '../viewer/server/app.ts';
import { buildMilOodFixture, type MilOodFixture } from './fixtures/mil-ood-fixture.ts';
import { CHROMIUM, openWatchedPage } from './helpers/chromium.ts';
import { repoRoot, tempDir } from './helpers/paths.ts';

const ARTIFACTS = join(repoRoot, 'out/test-artifacts');
const tmp = tempDir('e2e-ood');

let fx: MilOodFixture;
let viewer: RunningViewer;
let browser: Browser;
let page: Page;
/** Page errors, console errors and failed or >= 400 responses: the page must cause none. */
let pageErrors: string[];
let consoleErrors: string[];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return;
  mkdirSync(ARTIFACTS, { recursive: true });
  fx = await buildMilOodFixture(tmp.path);
  viewer = await startViewer({
    store: fx.store,
    openSlide: (p) => openSlide(p),
    port: 0,
    log: () => undefined,
  });
  ({ browser, page, pageErrors, consoleErrors } = await openWatchedPage());
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await viewer?.close();
  fx?.store.close();
  tmp.cleanup();
});

const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `ood-${name}.png`) });

describe.skipIf(!existsSync(CHROMIUM))('out-of-distribution warnings and saliency in Chromium', () => {
  it('badges the out-of-distribution slide on the list, and only it', async () => {
    await page.goto(viewer.url);
    await page.waitForSelector('[data-testid=slide-card]');
    const badge = page.locator('[data-name="wrong_001.tif"] [data-testid=ood-badge]');
    await expect.poll(() => badge.count()).toBe(1);
    expect(await badge.textContent()).toContain(`Out of distribution for mil #${fx.milRunId}`);
    expect(await badge.getAttribute('title')).toMatch(/nuclei look [\d.]+× smaller.*µm\/px/);
    expect(await page.locator('[data-name="held_001.tif"] [data-testid=ood-badge]').count()).toBe(0);
    await shot('1-list');
  });

  it('shows the reason beside the MIL probability, heatmap and attention, and saliency beside each patch', async () => {
    await page.click('[data-name="wrong_001.tif"]');
    await page.waitForSelector('#viewer[data-open=true]');
    expect(await page.textContent('[data-testid=ood-chip]')).toContain('out of distribution for 1 run');
    // The probability is offered only with the warning in the same line.
    const option = await page.textContent('#attention-run option');
    expect(option).toMatch(/slide p=\d\.\d\d ⚠ OUT OF DISTRIBUTION/);
    const note = page.locator('[data-testid=attention-ood]');
    await expect.poll(() => note.isVisible()).toBe(true);
    expect(await note.textContent()).toMatch(
      /nuclei look [\d.]+× smaller than in training.*check the slide's µm\/px/,
    );
    expect(await page.isVisible('[data-testid=heatmap-ood]')).toBe(true);
    expect(await page.textContent('[data-testid=heatmap-run] option')).toContain('OUT OF DISTRIBUTION');
    // Gallery: a gradient and a Grad-CAM image beside every patch, all decoded.
    await page.waitForSelector('[data-testid=gallery-item] img');
    const items = await page.locator('[data-testid=gallery-item]').count();
    expect(items).toBeGreaterThan(0);
    for (const map of ['gradient', 'gradcam']) {
      expect(await page.locator(`[data-testid=saliency-${map}]`).count()).toBe(items);
    }
    await page.evaluate(() =>
      document.querySelectorAll<HTMLImageElement>('.saliency-item img').forEach((i) => {
        i.loading = 'eager';
      }),
    );
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll<HTMLImageElement>('.saliency-item img')].every(
          (i) => i.complete && i.naturalWidth === 160,
        ),
      undefined,
      { timeout: 60_000 },
    );
    await shot('2-slide');
    await page.locator('[data-testid=attention-gallery]').scrollIntoViewIfNeeded();
    await page
      .locator('.panel-section', { has: page.locator('[data-testid=attention-gallery]') })
      .screenshot({ path: join(ARTIFACTS, 'ood-3-gallery.png') });
  });

  it('shows no warning on the held-out slide of the training centre', async () => {
    await page.goto(viewer.url);
    await page.click('[data-name="held_001.tif"]');
    await page.waitForSelector('#viewer[data-open=true]');
    await page.waitForSelector('[data-testid=gallery-item] img');
    expect(await page.locator('[data-testid=ood-chip]').count()).toBe(0);
    expect(await page.isVisible('[data-testid=attention-ood]')).toBe(false);
    expect(await page.isVisible('[data-testid=heatmap-ood]')).toBe(false);
    expect(await page.textContent('#attention-run option')).not.toContain('OUT OF DISTRIBUTION');
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });
});
