// Checks 5, 16 and 17 on the checkout page: the hold countdown under a fake clock
// (page.clock fast-forwards the real 15-minute hold), what its live regions say, and
// keyboard use with a visible focus ring that nothing covers.
import type { Page } from '@playwright/test';
import { audit, expectKeyboardReach, liveLog, recordLiveRegions } from '../audit';
import { buyInPage, expect, getOrder, sell, tag, test } from '../fixtures';

/** Moves the page's clock to `secondsLeft` before the hold's end, then lets it tick 4 s. */
async function tickThrough(page: Page, expiresAt: string, secondsLeft: number): Promise<void> {
  const now = await page.evaluate(() => Date.now());
  const jump = Date.parse(expiresAt) - secondsLeft * 1000 - now;
  if (jump > 0) await page.clock.fastForward(jump);
  await page.clock.runFor(4_000);
}

test('5 + 16: countdown announces 5 min and 1 min politely; at zero the alert takes focus and Pay is disabled', async ({
  users,
}) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Countdown ${tag()}`, 30);
  const page = buyer.page;
  await recordLiveRegions(page);
  await page.clock.install();

  const orderId = await buyInPage(page, ticket.id);
  const { expiresAt } = await getOrder(buyer, orderId);
  const timer = page.getByRole('timer');
  await expect(timer).toBeVisible();
  await expect(timer).toHaveText(/^1[45]:\d\d$/);
  // The timer itself is silent: no live region on or around it.
  expect(await timer.evaluate((el) => el.closest('[aria-live]:not([aria-live=off]), [role=status], [role=alert]'))).toBeNull();

  await tickThrough(page, expiresAt, 302);
  await expect(timer).toHaveText(/^04:5\d$/);
  await tickThrough(page, expiresAt, 62);
  await expect(timer).toHaveText(/^00:5\d$/);
  await tickThrough(page, expiresAt, 2);

  const alert = page.locator('#hold-ended');
  await expect(alert).toBeVisible();
  await expect(alert).toHaveAttribute('role', 'alert');
  await expect(alert).toContainText("Your hold has ended; the ticket was released");
  await expect(alert).toBeFocused();
  await expect(alert.getByRole('link', { name: "Check if it's still available" })).toBeVisible();
  const payButton = page.getByRole('button', { name: /^Pay/ });
  await expect(payButton).toBeDisabled();
  await audit(page, 'checkout at zero (client side)');

  // 16: exactly the milestones, in order, then the end said once (by the alert, not
  // again politely) — no per-second chatter.
  const said = (await liveLog(page))
    .filter((entry) => entry.region.includes('[data-hold-status]') || entry.region.includes('#hold-ended'))
    .map((entry) => entry.text);
  expect(said).toEqual([
    '5 minutes left to pay.',
    '1 minute left to pay.',
    "Your hold has ended; the ticket was released Check if it's still available",
  ]);
});

test('17: keyboard only — Tab reaches every control of the checkout with a visible ring, nothing covers it', async ({
  users,
}) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Keyboard ${tag()}`, 12);
  const page = buyer.page;
  await buyInPage(page, ticket.id);
  for (const size of [
    { width: 1280, height: 800 },
    { width: 320, height: 640 },
  ]) {
    await page.setViewportSize(size);
    await page.goto(page.url());
    await expect(page.getByRole('timer')).toBeVisible();
    await expectKeyboardReach(page, `checkout at ${size.width} px`);
  }
});
