// A real 413: a second live service started with a tiny request-body limit.
import { expect, test } from '@playwright/test';
import { MAN, addPhotos, openPage, requiredEnv } from './helpers';

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
