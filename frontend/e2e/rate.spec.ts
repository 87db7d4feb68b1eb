// The page against the live service: real compression, real upload, real model, real scores.
import { expect, test } from '@playwright/test';
import { MAN, MAN_EXIF, MAN_HEIC, NO_FACE, addPhotos, lowContrastTexts, openPage, requiredEnv, scoreOf } from './helpers';

test.use({ baseURL: requiredEnv('PM_BASE_URL') });

test('a photo of a man gets a score bar with a number from 0 to 10', async ({ page }) => {
  await openPage(page);
  await expect(page.getByRole('heading', { name: 'pretty-meter', level: 1 })).toBeVisible();
  const send = page.getByRole('button', { name: 'Rate' });
  await expect(send).toBeDisabled();

  await addPhotos(page, [MAN]);
  await expect(send).toBeDisabled();
  await page.getByLabel('Man (M)').check();
  await expect(send).toBeEnabled();

  const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/v1/rate')), send.click()]);
  expect(response.status()).toBe(200);
  // The page sent the photo compressed in the browser: 500×600 → 427×512 (the server saw that
  // size), and far fewer bytes than the 600 KB PNG.
  const answer = (await response.json()) as { results: { image_size: number[]; box: number[] }[] };
  expect(answer.results[0].image_size).toEqual([427, 512]);
  const sent = Number(await response.request().headerValue('content-length'));
  expect(sent).toBeGreaterThan(5_000);
  expect(sent).toBeLessThan(MAN.buffer.length / 3);

  await scoreOf(page, 0);
  await expect(page.getByText(/^Higher than \d{1,3}% of the photos the model was trained on/)).toBeVisible();
  await expect(page.getByTestId('person-box')).toBeVisible();
  const frame = await page.getByAltText('Photo 1: man.png').boundingBox();
  const box = await page.getByTestId('person-box').boundingBox();
  expect(frame && box).toBeTruthy();
  expect(box!.x).toBeGreaterThanOrEqual(frame!.x - 1);
  expect(box!.x + box!.width).toBeLessThanOrEqual(frame!.x + frame!.width + 1);
  expect(box!.y + box!.height).toBeLessThanOrEqual(frame!.y + frame!.height + 1);

  // what model answered, and that it is a demo one (the test model's card says demo)
  await expect(page.getByTestId('model-info')).toContainText('Model: ');
  await expect(page.getByText(/demo model trained on synthetic images/)).toBeVisible();
  await expect(send).toBeDisabled();
  await expect(page.getByTestId('error')).toBeEmpty();
});

test('a phone photo stored sideways with EXIF orientation is shown and sent upright', async ({ page }) => {
  await openPage(page);
  await addPhotos(page, [MAN_EXIF]);
  const shown = await page.getByAltText('Photo 1: phone.jpg').evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
  expect(shown).toEqual([427, 512]);
  await page.getByLabel('Man (M)').check();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/rate')),
    page.getByRole('button', { name: 'Rate' }).click(),
  ]);
  const answer = (await response.json()) as { results: { image_size: number[] }[] };
  // 600×500 pixels on disk, 500×600 upright: the page sent the upright 427×512 JPEG
  expect(answer.results[0].image_size).toEqual([427, 512]);
  await scoreOf(page, 0);
});

test('a HEIC photo (iPhone) gets a score: compressed where the browser decodes it, else sent as it is', async ({ page }) => {
  await openPage(page);
  await page.getByLabel('Add photos').setInputFiles([MAN_HEIC]);
  const card = page.getByTestId('photo-card').first();
  await expect(card.getByAltText('Photo 1: man.heic').or(card.getByText(/No preview in this browser/))).toBeVisible();
  await page.getByLabel('Man (M)').check();
  await page.getByRole('button', { name: 'Rate' }).click();
  await scoreOf(page, 0);
});

test('a photo with no face gets its own error while the other photo gets its score', async ({ page }) => {
  await openPage(page);
  await addPhotos(page, [NO_FACE, MAN]);
  await page.getByLabel('Man (M)').check();
  await page.getByRole('button', { name: 'Rate' }).click();
  const cards = page.getByTestId('photo-card');
  await expect(cards.nth(0).getByTestId('photo-error')).toHaveText(/No face found on this photo/);
  await expect(cards.nth(0).getByTestId('photo-error')).toHaveAttribute('data-code', 'no_face');
  await expect(cards.nth(0).getByRole('meter')).toHaveCount(0);
  await scoreOf(page, 1);
  // every text on the page, the score, the error and the demo notice included, passes WCAG AA
  expect(await lowContrastTexts(page)).toEqual([]);
});

test('the language switch turns the page Russian and back, and a Russian browser starts in Russian', async ({ page, browser }) => {
  await openPage(page);
  await page.getByRole('button', { name: 'Русский' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'ru');
  await expect(page.getByRole('button', { name: 'Оценить' })).toBeDisabled();
  await expect(page.getByText('Пожалуйста, не воспринимайте результат всерьёз: это игрушка, а не приговор.')).toBeVisible();
  await page.getByLabel('Добавить фото').setInputFiles([NO_FACE]);
  await page.getByLabel('Мужчина (М)').check();
  await page.getByRole('button', { name: 'Оценить' }).click();
  await expect(page.getByTestId('photo-error')).toHaveText(/На этой фотографии не найдено лицо/);
  await page.reload();
  await expect(page.getByRole('button', { name: 'Оценить' })).toBeVisible();
  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.getByRole('button', { name: 'Rate' })).toBeVisible();

  const russian = await browser.newContext({ locale: 'ru-RU', baseURL: requiredEnv('PM_BASE_URL') });
  const ruPage = await russian.newPage();
  await ruPage.goto('/');
  await expect(ruPage.getByRole('heading', { name: 'Как это работает' })).toBeVisible();
  await russian.close();
});

test('the page is keyboard-operable with a visible focus', async ({ page }) => {
  await openPage(page);
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'English' })).toBeFocused();
  const outline = await page.getByRole('button', { name: 'English' }).evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).toBe('solid');
  await page.getByLabel('Add photos').focus();
  await page.getByLabel('Add photos').setInputFiles([MAN]);
  await expect(page.getByAltText('Photo 1: man.png')).toBeVisible();
  await page.getByLabel('Man (M)').focus();
  await page.keyboard.press('Space');
  await expect(page.getByLabel('Man (M)')).toBeChecked();
  await page.getByRole('button', { name: 'Rate' }).focus();
  await page.keyboard.press('Enter');
  await scoreOf(page, 0);
});
