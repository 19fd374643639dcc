// Check 6 on the 5-second server: a hold that really ends. The order page and history
// say so in plain words, and the ticket is free again for someone else.
import { audit } from '../../audit';
import { buyInPage, expect, getOrder, getTicket, sell, tag, test } from '../../fixtures';

test('6: after a real 5 s expiry the order is cancelled ("Hold ended before payment") and C can buy the ticket', async ({
  users,
}) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const third = await users('third');
  const ticket = await sell(seller, `Expiring ${tag()}`, 25);
  const page = buyer.page;

  const orderId = await buyInPage(page, ticket.id);
  // The server decides: wait until its expiry job has cancelled the order.
  await expect
    .poll(async () => (await getOrder(buyer, orderId)).status, { timeout: 15_000, intervals: [250] })
    .toBe('cancelled');
  expect((await getOrder(buyer, orderId)).cancelReason).toBe('expired');

  await page.goto(`/orders/${orderId}`);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Order cancelled');
  await expect(page.locator('main')).toContainText('Cancelled');
  await expect(page.locator('main')).toContainText('Hold ended before payment');
  await audit(page, 'expired order');

  await page.goto('/orders');
  const card = page.locator('.card').filter({ hasText: ticket.title });
  await expect(card).toContainText('Cancelled');
  await expect(card).toContainText('Hold ended before payment');

  await expect.poll(async () => (await getTicket(third, ticket.id)).status, { timeout: 10_000 }).toBe('available');
  await third.page.goto(`/tickets/${ticket.id}`);
  await expect(third.page.locator('main')).toContainText('Available');
  const thirdOrder = await buyInPage(third.page, ticket.id);
  expect((await getOrder(third, thirdOrder)).status).toBe('created');
});

test('15: the checkout of an order past its hold, before and after the server expires it', async ({ users }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Expired view ${tag()}`, 25);
  const page = buyer.page;
  const orderId = await buyInPage(page, ticket.id);
  // The page's own countdown reaches zero (real clock, 5 s): alert focused, Pay disabled.
  await expect(page.locator('#hold-ended')).toBeFocused({ timeout: 10_000 });
  await expect(page.getByRole('button', { name: /^Pay/ })).toBeDisabled();
  await audit(page, 'checkout at zero (short window)');
  // Paying now is refused by the server, and the buyer is told nothing was charged.
  await expect.poll(async () => (await getOrder(buyer, orderId)).status, { timeout: 15_000 }).toBe('cancelled');
  await page.goto(`/orders/${orderId}`);
  await expect(page.locator('main')).toContainText('Hold ended before payment');
});
