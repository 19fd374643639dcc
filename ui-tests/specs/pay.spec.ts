// Checks 7–10: paying with the test processor's cards, 3-D Secure, and a double click
// that must not pay twice. Also 15/18/20 on checkout, confirmation and order history.
import { audit } from '../audit';
import { buyInPage, expect, expectBought, getOrder, getTicket, pay, sell, tag, test } from '../fixtures';

test('7: tok_visa → confirmation; history says Complete; others see Sold', async ({ users }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const other = await users('other');
  const ticket = await sell(seller, `Paid gig ${tag()}`, 42.5);
  const page = buyer.page;

  const orderId = await buyInPage(page, ticket.id);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Checkout');
  await expect(page.getByRole('button', { name: /^Pay/ })).toHaveAccessibleName('Pay $42.50');
  await audit(page, 'checkout');

  await pay(page, 'tok_visa');
  await expect(page).toHaveURL(new RegExp(`/orders/${orderId}`));
  await expectBought(page, ticket.title);
  await expect(page.locator('main')).toContainText('$42.50');
  await expect(page.locator('main')).toContainText(orderId);
  await audit(page, 'confirmation');

  await page.getByRole('link', { name: 'See all your orders' }).click();
  await expect(page).toHaveURL(/\/orders$/);
  const card = page.locator('.card').filter({ hasText: ticket.title });
  await expect(card).toContainText('Complete');
  await audit(page, 'order history');
  expect((await getOrder(buyer, orderId)).status).toBe('complete');

  await other.page.goto(`/tickets/${ticket.id}`);
  await expect(other.page.locator('main')).toContainText('Sold');
  await expect(other.page.getByRole('button', { name: 'Buy', exact: true })).toHaveCount(0);
  await expect(other.page.getByRole('link', { name: /Back to browse/ })).toBeVisible();
  await audit(other.page, 'sold ticket');
});

test('8: tok_chargeDeclined → the provider message, form usable again, hold still counting', async ({ users }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Declined gig ${tag()}`, 10);
  const page = buyer.page;
  const orderId = await buyInPage(page, ticket.id);
  const before = await getOrder(buyer, orderId);

  await pay(page, 'tok_chargeDeclined');
  const summary = page.locator('#error-summary');
  await expect(summary).toContainText('Your card was declined.');
  await expect(summary).toBeFocused();
  await expect(page).toHaveTitle(/^Error: /);
  const payButton = page.getByRole('button', { name: /^Pay/ });
  await expect(payButton).toBeEnabled();
  await expect(page.locator('input[type=radio][value=tok_visa]')).toBeEnabled();
  // The countdown still runs, and the failure did not reset the hold (pretix #1575).
  const timer = page.getByRole('timer');
  await expect(timer).toHaveText(/^\d\d:\d\d$/);
  const shown = await timer.innerText();
  await expect(timer).not.toHaveText(shown, { timeout: 3_000 });
  const after = await getOrder(buyer, orderId);
  expect(after.status).toBe('created');
  expect(after.expiresAt).toBe(before.expiresAt);
  await audit(page, 'checkout after a declined card');

  // The form really is usable again: paying with a good card now works.
  await pay(page, 'tok_visa');
  await expectBought(page, ticket.title);
});

test('9: tok_threeDSecure2Required → challenge → Complete → confirmation; → Fail → checkout with a message', async ({
  users,
}) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const page = buyer.page;

  const good = await sell(seller, `3DS good ${tag()}`, 15);
  const goodOrder = await buyInPage(page, good.id);
  await pay(page, 'tok_threeDSecure2Required');
  await expect(page).toHaveURL(new RegExp(`/orders/${goodOrder}/authenticate`));
  await audit(page, '3-D Secure challenge');
  await page.getByRole('button', { name: 'Complete authentication' }).click();
  await expectBought(page, good.title);
  expect((await getOrder(buyer, goodOrder)).status).toBe('complete');

  const bad = await sell(seller, `3DS bad ${tag()}`, 16);
  const badOrder = await buyInPage(page, bad.id);
  await pay(page, 'tok_threeDSecure2Required');
  await expect(page).toHaveURL(new RegExp(`/orders/${badOrder}/authenticate`));
  await page.getByRole('button', { name: 'Fail authentication' }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${badOrder}(\\?|$)`));
  await expect(page.locator('#error-summary')).toContainText('Authentication failed');
  // The failure reaches the order through the provider's webhook; until it has, the page
  // says the payment is in progress and offers "Check again".
  await expect(async () => {
    const again = page.getByRole('link', { name: 'Check again' });
    if (await again.isVisible()) await again.click();
    await expect(page.getByRole('timer')).toHaveText(/^\d\d:\d\d$/, { timeout: 500 });
  }).toPass({ timeout: 10_000 });
  await expect(page.locator('#error-summary')).toContainText('Authentication failed');
  await expect(page.getByRole('button', { name: /^Pay/ })).toBeEnabled();
  await audit(page, 'checkout after failed authentication');
});

test('10: a double click on Pay and a resubmitted form pay exactly once', async ({ users, baseURL }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Double click ${tag()}`, 20);
  const page = buyer.page;
  const orderId = await buyInPage(page, ticket.id);
  const key = await page.locator('input[type=hidden][name=idempotency_key]').inputValue();
  expect(key).not.toBe('');

  await page.locator('input[type=radio][value=tok_visa]').check();
  await page.getByRole('button', { name: /^Pay/ }).dblclick();
  await expectBought(page, ticket.title);

  // The same form sent again (same key): still one payment, shown as the confirmation.
  const again = await page.request.post(`/orders/${orderId}/pay`, {
    form: { idempotency_key: key, token: 'tok_visa' },
    headers: { Origin: baseURL! },
    maxRedirects: 0,
  });
  expect(again.status(), await again.text()).toBe(303);
  expect(again.headers()['location']).toContain(`/orders/${orderId}`);

  // Through the API: the key answers the one payment again; a new attempt is refused.
  const replay = await page.request.post('/api/payments', {
    data: { orderId, token: 'tok_visa' },
    headers: { 'Idempotency-Key': key },
  });
  expect(replay.status(), await replay.text()).toBe(201);
  expect((await replay.json()).status).toBe('succeeded');
  const fresh = await page.request.post('/api/payments', { data: { orderId, token: 'tok_visa' } });
  expect(fresh.status()).toBe(400);
  expect(await fresh.text()).toContain('Order has already been paid for');
  expect((await getOrder(buyer, orderId)).status).toBe('complete');
  expect((await getTicket(buyer, ticket.id)).status).toBe('sold');
});
