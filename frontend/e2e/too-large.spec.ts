// A real 413: a second live service started with a tiny request-body limit.
import { expect, test } from '@playwright/test';
import { MAN, NO_FACE, addPhotos, openPage, requiredEnv } from './helpers';

test.use({ baseURL: requiredEnv('PM_SMALL_LIMIT_URL') });

test('a request over the service body limit shows the 413 message and nothing else breaks', async ({ page }) => {
  await openPage(page);
  await addPhotos(page, [MAN]);
  await page.getByLabel('Man (M)').check();
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().endsWith('/v1/rate')),
    page.getByRole('button', { name: 'Rate' }).click(),
  ]);
  expect(response.status()).toBe(413);
  await expect(page.getByRole('alert')).toHaveText(
    'The photos are too large for the server (HTTP 413). Send fewer photos at once or smaller ones.',
  );
  await expect(page.getByRole('meter')).toHaveCount(0);
  // a failed send may be retried
  await expect(page.getByRole('button', { name: 'Rate' })).toBeEnabled();
});

test('the page served from one origin uses an API on another origin (CORS), 413 included', async ({ page }) => {
  // The page and its config.json come from the main service; config.json is rewritten to point
  // at the small-limit service, which allows the main service's origin (PRETTYMETER_CORS_ORIGINS).
  const pageOrigin = requiredEnv('PM_BASE_URL');
  const api = requiredEnv('PM_SMALL_LIMIT_URL');
  await page.route('**/config.json', (route) =>
    route.fulfill({ json: { apiBaseUrl: api, maxFiles: 4, analyticsId: null } }),
  );
  await openPage(page, `${pageOrigin}/`);
  await expect(page.getByTestId('model-info')).toContainText('Model: ');
  await addPhotos(page, [NO_FACE]);
  await page.getByLabel('Man (M)').check();
  const [answer] = await Promise.all([
    page.waitForResponse((r) => r.url() === `${api}/v1/rate`),
    page.getByRole('button', { name: 'Rate' }).click(),
  ]);
  expect(answer.status()).toBe(200);
  await expect(page.getByTestId('photo-error')).toHaveText(/No face found on this photo/);

  await addPhotos(page, [MAN]);
  await page.getByRole('button', { name: 'Rate' }).click();
  await expect(page.getByRole('alert')).toHaveText(/too large for the server \(HTTP 413\)/);
});
