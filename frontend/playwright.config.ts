// Playwright end-to-end run: a real headless Chromium (the system's, never a download)
// against a LIVE pretty-meter service at PM_BASE_URL (and PM_SMALL_LIMIT_URL for the 413 spec).
import { defineConfig, devices } from '@playwright/test';

const chromium = process.env.PM_CHROMIUM ?? '/usr/bin/chromium';

export default defineConfig({
  testDir: 'e2e',
  outputDir: 'test-results',
  timeout: 90_000,
  expect: { timeout: 30_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  reporter: [['list']],
  use: {
    baseURL: process.env.PM_BASE_URL,
    trace: 'off',
    screenshot: 'only-on-failure',
    locale: 'en-US',
    launchOptions: {
      executablePath: chromium,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { ...devices['Desktop Chrome'], channel: undefined } }],
});
