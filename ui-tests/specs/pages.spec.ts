// 15, 18 and 20 on the pages and states the journeys above do not pass through: a
// seller's own ticket, edit (free and locked), delete confirmation, empty lists, events,
// help — and 17 (keyboard only) on the main forms.
import { audit, expectKeyboardReach } from '../audit';
import { expect, order, sell, tag, test } from '../fixtures';

test('15/18/20: seller pages — own ticket, edit, edit while reserved, delete confirmation', async ({ users }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const page = seller.page;
  const free = await sell(seller, `Own ticket ${tag()}`, 19.99, 'Row F, seat 3.');
  await page.goto(`/tickets/${free.id}`);
  await expect(page.getByRole('link', { name: /^Edit/ })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Buy', exact: true })).toHaveCount(0);
  await audit(page, 'own ticket');
  await page.getByRole('link', { name: /^Edit/ }).click();
  await expect(page.getByLabel('Title')).toHaveValue(free.title);
  await audit(page, 'edit listing');
  await page.goto(`/tickets/${free.id}/delete`);
  await expect(page.locator('main').getByRole('button', { name: /^Delete/ })).toBeVisible();
  await audit(page, 'delete confirmation');

  const held = await sell(seller, `Held ticket ${tag()}`, 30);
  await order(buyer, held.id);
  await page.goto(`/tickets/${held.id}/edit`);
  await expect(page.locator('main')).toContainText('Cannot edit a reserved ticket');
  await expect(page.getByLabel('Title')).toBeDisabled();
  await audit(page, 'edit listing while reserved');

  await buyer.page.goto(`/tickets/${held.id}`);
  await expect(buyer.page.getByRole('link', { name: 'Go to checkout' })).toBeVisible();
  await audit(buyer.page, 'reserved ticket seen by its holder');
  const other = await users('other');
  await other.page.goto(`/tickets/${held.id}`);
  await expect(other.page.getByRole('link', { name: 'Join the line' })).toBeVisible();
  await audit(other.page, 'reserved ticket seen by another buyer');
  await other.page.goto(`/tickets/${free.id}`);
  await expect(other.page.getByRole('button', { name: 'Buy', exact: true })).toBeVisible();
  await audit(other.page, 'available ticket');
});

test('15/18/20: empty states — my listings, my orders', async ({ users }) => {
  const { page } = await users('newcomer');
  await page.goto('/my/listings');
  await expect(page.locator('main')).toContainText('You have no listings yet.');
  await audit(page, 'empty my listings');
  await page.goto('/orders');
  await expect(page.locator('main')).toContainText('You have no orders yet.');
  await audit(page, 'empty order history');
});

test('15/18/20: my listings with a listing (320 px: the table scrolls inside its box)', async ({ users }) => {
  const seller = await users('seller');
  await sell(seller, `Listed ${tag()}`, 12.5);
  await seller.page.goto('/my/listings');
  await expect(seller.page.getByRole('row')).toHaveCount(2);
  await audit(seller.page, 'my listings');
});

test('15/18/20: events list, an event, the new-event form, help', async ({ users, page }) => {
  const seller = await users('seller');
  const startsAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
  const created = await seller.context.request.post('/api/events', {
    data: { name: `Summer festival ${tag()}`, venue: 'Riverside Park', startsAt },
  });
  expect(created.status(), await created.text()).toBe(201);
  const event = await created.json();
  await sell(seller, `Festival day pass ${tag()}`, 75);

  await page.goto('/events');
  await expect(page.locator('main')).toContainText(event.name);
  await audit(page, 'events');
  await page.goto(`/events/${event.id}`);
  await expect(page.getByRole('heading', { level: 1 })).toContainText(event.name);
  await audit(page, 'an event');
  await seller.page.goto('/events/new');
  await audit(seller.page, 'new event form');
  const help = await page.goto('/help');
  expect(help!.status()).toBe(200);
  await audit(page, 'help');
});

test('17: keyboard only on browse, sell with errors, a ticket and the line', async ({ users }) => {
  const seller = await users('seller');
  const holder = await users('holder');
  const buyer = await users('buyer');
  const held = await sell(seller, `Keyboard line ${tag()}`, 14);
  await order(holder, held.id);
  const page = buyer.page;

  await page.goto('/');
  await expectKeyboardReach(page, 'browse');
  await page.goto('/sell');
  await page.locator('main').getByRole('button', { name: 'Sell', exact: true }).click();
  await expect(page.locator('#error-summary')).toBeFocused();
  await expectKeyboardReach(page, 'sell with errors');
  await page.goto(`/tickets/${held.id}`);
  await expectKeyboardReach(page, 'reserved ticket');
  await page.goto(`/tickets/${held.id}/queue`);
  await page.getByRole('button', { name: 'Join the line' }).click();
  await expect(page.locator('[data-position-text]')).toHaveText('You are #1 of 1');
  await expectKeyboardReach(page, 'queue');
});
