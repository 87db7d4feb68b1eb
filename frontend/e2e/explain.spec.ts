// Why this score, in a real browser against a live service serving person-crop models: the Explain
// button asks explain=true, the heat map lands over the face's region, the legend and the regions
// are shown, and the overlay hides; at 1,280 px in English and 390 px in Russian.
import { expect, test, type Page } from '@playwright/test';
import { MESSAGES, type Messages } from '../src/i18n';
import { explainGroupFace, lowContrastTexts, MAN, openPage, requiredEnv, scoreOf, type Explained } from './helpers';

test.use({ baseURL: requiredEnv('PM_CROP_URL') });

const ORANGE = 'rgba(230, 97, 1,';
const BLUE = 'rgba(33, 102, 172,';

/** The overlay matches the answer: one cell per heat-map value on the photo, coloured by its sign,
 * all inside the photo; the regions list the answer's deltas. */
async function checkExplanation(page: Page, m: Messages, answer: Explained, alt: string) {
  const overlay = page.getByTestId('explain-overlay');
  await expect(overlay).toBeVisible();
  await expect(overlay).toHaveAttribute('aria-label', m.explain.overlay);
  const cells = await overlay.getByTestId('heat-cell').evaluateAll((spans) =>
    spans.map((s) => {
      const r = s.getBoundingClientRect();
      return { value: Number(s.dataset.value), colour: getComputedStyle(s).backgroundColor, x: r.x, y: r.y, w: r.width, h: r.height };
    }),
  );
  const values = answer.heatmap.flat();
  expect(cells.length).toBeGreaterThan(0);
  expect(cells.length).toBeLessThanOrEqual(values.length);
  const photo = (await page.getByAltText(alt).boundingBox())!;
  for (const cell of cells) {
    expect(values).toContain(cell.value);
    if (Math.abs(cell.value) > 1e-9) expect(cell.colour.startsWith(cell.value > 0 ? ORANGE : BLUE)).toBe(true);
    expect(cell.x).toBeGreaterThanOrEqual(photo.x - 1);
    expect(cell.y).toBeGreaterThanOrEqual(photo.y - 1);
    expect(cell.x + cell.w).toBeLessThanOrEqual(photo.x + photo.width + 1);
    expect(cell.y + cell.h).toBeLessThanOrEqual(photo.y + photo.height + 1);
  }
  // the cells that differ in sign really look different on the page
  if (values.some((v) => v > 0.01) && values.some((v) => v < -0.01)) {
    expect(new Set(cells.map((c) => c.colour.split(',').slice(0, 3).join()))).toHaveProperty('size', 2);
  }
  const panel = page.getByTestId('explain-panel');
  await expect(panel).toContainText(m.explain.note);
  const legend = panel.getByTestId('explain-legend');
  await expect(legend).toBeVisible();
  await expect(legend).toContainText(m.explain.raises);
  await expect(legend).toContainText(m.explain.lowers);
  const rows = panel.getByTestId('explain-regions').getByRole('listitem');
  await expect(rows).toHaveCount(answer.regions.length);
  for (const [i, region] of answer.regions.entries()) {
    await expect(rows.nth(i)).toHaveAttribute('data-region', region.name);
    await expect(rows.nth(i)).toContainText(m.explain.regions[region.name]);
  }
  // the service's own words say the same as the page's note
  expect(answer.note).toBe('what the model reacts to, not what is beautiful');
}

async function hide(page: Page, m: Messages) {
  await page.getByRole('button', { name: m.explain.hide }).click();
  await expect(page.getByTestId('explain-overlay')).toHaveCount(0);
  await expect(page.getByTestId('explain-panel')).toHaveCount(0);
  await expect(page.getByRole('button', { name: m.explain.show })).toBeVisible();
}

test('Explain on a face of a group photo shows the heat map, legend and regions, and hides them (1,280 px)', async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await openPage(page);
  const m = MESSAGES.en;
  const answer = await explainGroupFace(page, m);
  await checkExplanation(page, m, answer, 'Photo 1: group.jpg');
  expect(await lowContrastTexts(page)).toEqual([]);
  await hide(page, m);
  // shown again from the answer already there: no second explain request
  let asked = 0;
  page.on('request', (r) => void (r.url().endsWith('/v1/rate') && (asked += 1)));
  await page.getByRole('button', { name: m.explain.show }).click();
  await expect(page.getByTestId('explain-overlay')).toBeVisible();
  expect(asked).toBe(0);
});

test('Explain on a single scored photo puts the heat map over the scored person', async ({ page }) => {
  await openPage(page);
  const m = MESSAGES.en;
  await page.getByLabel(m.addPhotos).setInputFiles([MAN]);
  await page.getByLabel(m.man).check();
  await page.getByRole('button', { name: m.send, exact: true }).click();
  const score = await scoreOf(page, 0);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/rate')),
    page.getByRole('button', { name: m.explain.ask }).click(),
  ]);
  const answer = (await response.json()) as { results: { explanation: Explained; score: number }[] };
  expect(answer.results[0].score).toBe(score);
  await checkExplanation(page, m, answer.results[0].explanation, 'Photo 1: man.png');
  await hide(page, m);
});

test('Explain at 390 px in Russian: overlay, legend and note fit the screen, and hide', async ({ browser }) => {
  const context = await browser.newContext({
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'ru-RU',
    baseURL: requiredEnv('PM_CROP_URL'),
  });
  const page = await context.newPage();
  await page.goto('/');
  const m = MESSAGES.ru;
  await expect(page.getByLabel(m.addPhotos)).toBeEnabled();
  const answer = await explainGroupFace(page, m);
  await checkExplanation(page, m, answer, 'Фото 1: group.jpg');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await hide(page, m);
  await context.close();
});
