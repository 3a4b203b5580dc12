/**
 * Headless Debian Chromium for end-to-end tests (playwright-core drives the system browser, no download),
 * with a page that collects what a viewer page must never cause.
 */
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export interface WatchedPage {
  browser: Browser;
  page: Page;
  pageErrors: string[];
  /** Console errors and failed requests (network errors and HTTP >= 400). */
  consoleErrors: string[];
}

export async function openWatchedPage(viewport = { width: 1400, height: 900 }): Promise<WatchedPage> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage({ viewport });
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('requestfailed', (r) => {
    // Aborted fetches (a newer viewport superseded them) are not failures.
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') consoleErrors.push(`failed: ${r.url()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) consoleErrors.push(`${r.status()}: ${r.url()}`);
  });
  return { browser, page, pageErrors, consoleErrors };
}
