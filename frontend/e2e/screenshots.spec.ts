// Desktop and 360-px phone screenshots of the page with scored photos (docs/screenshots/).
// Written to docs/screenshots only when PM_SCREENSHOTS_DIR is set (npm run screenshots); otherwise
// to the test output folder, so an ordinary test run never changes tracked files.
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { MAN, NO_FACE, addPhotos, openPage, requiredEnv, scoreOf } from './helpers';

test.use({ baseURL: requiredEnv('PM_BASE_URL') });

async function scoredPage(page: Page) {
  await openPage(page);
  await addPhotos(page, [MAN, NO_FACE]);
  await page.getByLabel('Man (M)').check();
  await page.getByRole('button', { name: 'Rate' }).click();
  await scoreOf(page, 0);
  await expect(page.getByTestId('photo-error')).toBeVisible();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
}

function target(name: string, testInfo: { outputPath: (n: string) => string }): string {
  const dir = process.env.PM_SCREENSHOTS_DIR;
  return dir ? path.resolve(dir, name) : testInfo.outputPath(name);
}

test('desktop screenshot with scored photos', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await scoredPage(page);
  await page.screenshot({ path: target('desktop.png', testInfo), fullPage: true });
});

test('phone (360 px) screenshot with scored photos', async ({ browser }, testInfo) => {
  const context = await browser.newContext({
    viewport: { width: 360, height: 780 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    baseURL: requiredEnv('PM_BASE_URL'),
  });
  const page = await context.newPage();
  await scoredPage(page);
  // nothing may stick out sideways on a 360-px screen
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  // on a touch screen the camera button is offered
  await expect(page.getByText('Take a photo')).toBeVisible();
  // A fullPage capture drops Chromium's touch emulation (and so the camera button): grow the
  // viewport to the whole page instead.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 360, height });
  await expect(page.getByText('Take a photo')).toBeVisible();
  await page.screenshot({ path: target('phone-360.png', testInfo) });
  await context.close();
});
