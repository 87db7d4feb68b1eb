// Desktop and 360-px phone screenshots of the page with scored photos, and of the explanation
// overlay (desktop, 390-px phone, and a Russian group photo) against the person-crop service
// (docs/screenshots/).
// Written to docs/screenshots only when PM_SCREENSHOTS_DIR is set (npm run screenshots); otherwise
// to the test output folder, so an ordinary test run never changes tracked files.
import path from 'node:path';
import { expect, test, type Browser, type Page } from '@playwright/test';
import { MESSAGES } from '../src/i18n';
import { MAN, NO_FACE, addPhotos, explainGroupFace, openPage, requiredEnv, scoreOf } from './helpers';

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

/** A page on the person-crop service (which explains each face) at a desktop or 390-px phone size. */
async function cropPage(browser: Browser, phone: boolean, locale: 'en-US' | 'ru-RU') {
  const context = await browser.newContext({
    viewport: phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
    deviceScaleFactor: phone ? 2 : 1,
    isMobile: phone,
    hasTouch: phone,
    locale,
    baseURL: requiredEnv('PM_CROP_URL'),
  });
  const page = await context.newPage();
  await page.goto('/');
  await expect(page.getByLabel(MESSAGES[locale === 'en-US' ? 'en' : 'ru'].addPhotos)).toBeEnabled();
  return { context, page };
}

/** The whole page in one capture (a phone grows its viewport: see the 360-px screenshot above). */
async function capture(page: Page, phone: boolean, file: string) {
  if (phone) {
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 390, height });
    await page.screenshot({ path: file });
  } else {
    await page.screenshot({ path: file, fullPage: true });
  }
}

test('explanation overlay screenshot, desktop, a face of a group photo', async ({ browser }, testInfo) => {
  const { context, page } = await cropPage(browser, false, 'en-US');
  await explainGroupFace(page, MESSAGES.en);
  await capture(page, false, target('explain-desktop.png', testInfo));
  await context.close();
});

test('explanation overlay screenshot, 390-px phone, one photo', async ({ browser }, testInfo) => {
  const { context, page } = await cropPage(browser, true, 'en-US');
  const m = MESSAGES.en;
  await page.getByLabel(m.addPhotos).setInputFiles([MAN]);
  await page.getByLabel(m.man).check();
  await page.getByRole('button', { name: m.send, exact: true }).click();
  await scoreOf(page, 0);
  await page.getByRole('button', { name: m.explain.ask }).click();
  await expect(page.getByTestId('explain-legend')).toBeVisible();
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await capture(page, true, target('explain-phone.png', testInfo));
  await context.close();
});

test('group photo screenshot in Russian, 390-px phone, a face explained', async ({ browser }, testInfo) => {
  const { context, page } = await cropPage(browser, true, 'ru-RU');
  await explainGroupFace(page, MESSAGES.ru);
  await capture(page, true, target('group-ru-phone.png', testInfo));
  await context.close();
});
