// Check 13: with JavaScript off, every journey still works through plain forms — buy,
// pay with tok_visa, cancel an order, join and leave a line — and no page refreshes
// itself (axe's meta-refresh rule is part of 15).
import { audit } from '../audit';
import { buyInPage, expect, expectBought, getOrder, order, pay, sell, tag, test } from '../fixtures';

test('13: no-JS buyer: buy and pay, buy and cancel, join and leave the line', async ({ users }) => {
  const seller = await users('seller');
  const holder = await users('holder');
  const buyer = await users('nojs', false);
  const page = buyer.page;

  // Buy and pay.
  const paid = await sell(seller, `No-JS paid ${tag()}`, 11);
  const paidOrder = await buyInPage(page, paid.id);
  // The absolute time stands in for the countdown, which needs the script.
  await expect(page.locator('main')).toContainText(/until \d\d:\d\d UTC/);
  await expect(page.getByRole('timer')).toBeHidden();
  await audit(page, 'no-JS checkout');
  await pay(page, 'tok_visa');
  await expectBought(page, paid.title);
  expect((await getOrder(buyer, paidOrder)).status).toBe('complete');

  // Buy and cancel (a confirmation page, then the form).
  const dropped = await sell(seller, `No-JS cancelled ${tag()}`, 12);
  const droppedOrder = await buyInPage(page, dropped.id);
  await page.getByRole('link', { name: 'Cancel order' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Cancel this order?');
  await audit(page, 'cancel confirmation');
  await page.locator('main').getByRole('button', { name: 'Cancel order' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Order cancelled');
  await expect(page.locator('main')).toContainText('You cancelled');
  const cancelled = await getOrder(buyer, droppedOrder);
  expect([cancelled.status, cancelled.cancelReason]).toEqual(['cancelled', 'user']);
  await audit(page, 'cancelled order');

  // Join and leave a line.
  const held = await sell(seller, `No-JS line ${tag()}`, 13);
  await order(holder, held.id);
  await page.goto(`/tickets/${held.id}`);
  await page.getByRole('link', { name: 'Join the line' }).click();
  await page.getByRole('button', { name: 'Join the line' }).click();
  await expect(page.locator('main')).toContainText('You are #1 of 1');
  await expect(page.getByRole('link', { name: 'Check my position' })).toBeVisible();
  await audit(page, 'no-JS queue');
  const status = await buyer.context.request.get(`/api/queue/${held.id}`);
  expect((await status.json()).position).toBe(1);
  await page.getByRole('button', { name: 'Leave the line' }).click();
  await expect(page.getByRole('button', { name: 'Join the line' })).toBeVisible();
  const after = await buyer.context.request.get(`/api/queue/${held.id}`);
  expect([404, 200]).toContain(after.status());
  if (after.status() === 200) expect((await after.json()).position ?? null).toBeNull();
});
