// The browser checks of UI.md §4, run in Debian's chromium (never a downloaded browser).
//
// Three servers (started by ../scripts/ui-tests, or by global-setup.ts when run alone):
// "default" keeps the real 15-minute hold (countdowns are fast-forwarded with page.clock),
// "short" holds for 5 s and gives 5-second queue turns, for real expiry and turns;
// "stripe" pays through Stripe (localstripe) with Stripe.js replaced by stripe-double.ts.
// The "screenshots" project runs first on a clean default server, so the pictures in
// docs/screenshots show tidy data rather than what the other checks leave behind.
import { defineConfig } from '@playwright/test';
import type { ServerOptions } from './fixtures';

const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig<ServerOptions>({
  testDir: './specs',
  globalSetup: './global-setup.ts',
  workers: 2,
  fullyParallel: false,
  forbidOnly: true,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [['list']],
  outputDir: './test-results',
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: chromiumArgs,
    },
    actionTimeout: 5_000,
    navigationTimeout: 10_000,
    locale: 'en-GB',
    timezoneId: 'UTC',
    viewport: { width: 1280, height: 800 },
    trace: 'off',
    screenshot: 'only-on-failure',
  },
  projects: [
    { name: 'screenshots', testMatch: /screenshots\.spec\.ts/, use: { server: 'default' } },
    {
      name: 'default',
      testMatch: /\.spec\.ts/,
      testIgnore: [/screenshots\.spec\.ts/, /short\//, /stripe\//],
      dependencies: ['screenshots'],
      use: { server: 'default' },
    },
    { name: 'short', testMatch: /short\/.*\.spec\.ts/, use: { server: 'short' } },
    { name: 'stripe', testMatch: /stripe\/.*\.spec\.ts/, use: { server: 'stripe' } },
  ],
});
