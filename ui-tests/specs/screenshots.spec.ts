// The pictures in docs/screenshots (README "Screenshots"), desktop and 320 px wide,
// taken first on a fresh default server so they show tidy example data.
import { screenshots } from '../audit';
import { buyInPage, expect, order, pay, sell, test } from '../fixtures';

test('screenshots of browse, ticket, sell with errors, checkout, confirmation, orders, queue, waiting room', async ({ users }) => {
  test.setTimeout(60_000);
  const seller = await users('seller');
  const holder = await users('holder');
  const buyer = await users('buyer');
  const page = buyer.page;
  const tickets = [];
  for (const [title, price, description] of [
    ['The Lumineers — Saturday, block C row 12', 64, 'Seated, aisle. E-ticket, transferred through the app.'],
    ['Hamilton matinee, stalls K14', 89.5, 'Great view of the stage. Paper ticket, handed over at the door.'],
    ['Cup final, upper tier', 120, 'Away end, one seat.'],
    ['Jazz at the Blue Room, table for two', 45, ''],
    ['Stand-up comedy night, front row', 22, 'You may be part of the show.'],
    ['Symphony No. 9 — Sunday evening', 38.75, 'Balcony, row B.'],
  ] as const) {
    tickets.push(await sell(seller, title, price, description));
  }
  const [lumineers, hamilton, cup, jazz] = tickets;
  await order(holder, cup.id);

  await page.goto('/');
  await expect(page.locator('.card')).toHaveCount(tickets.length);
  await screenshots(page, 'browse');

  await page.goto(`/tickets/${hamilton.id}`);
  await screenshots(page, 'ticket');

  await page.goto('/sell');
  await page.getByLabel(/^Price/).fill('0');
  await page.locator('main').getByRole('button', { name: 'Sell', exact: true }).click();
  await expect(page.locator('#error-summary')).toBeVisible();
  await screenshots(page, 'sell-errors');

  await buyInPage(page, lumineers.id);
  await expect(page.getByRole('timer')).toHaveText(/^1[45]:\d\d$/);
  await page.locator('input[type=radio][value=tok_visa]').check();
  await screenshots(page, 'checkout');

  await pay(page, 'tok_visa');
  await expect(page.getByRole('heading', { level: 1 })).toContainText('You bought');
  await screenshots(page, 'confirmation');

  await buyInPage(page, jazz.id);
  await page.goto('/orders');
  await screenshots(page, 'orders');

  await page.goto(`/tickets/${cup.id}/queue`);
  await page.getByRole('button', { name: 'Join the line' }).click();
  await expect(page.locator('[data-position-text]')).toHaveText('You are #1 of 1');
  await screenshots(page, 'queue');

  const startsAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
  const created = await seller.context.request.post('/api/events', {
    data: { name: 'Midsummer Festival — opening night', venue: 'Riverside Park', startsAt },
  });
  const event = (await created.json()).id;
  await seller.context.request.post('/api/tickets', {
    data: { title: 'General admission', price: 55, eventId: event },
  });
  const opensAt = new Date(Date.now() + 10 * 60 * 1000).toISOString();
  await expect
    .poll(async () => (await seller.context.request.put(`/api/events/${event}/room`, {
      data: { opensAt, perAccountLimit: 2 },
    })).status(), { timeout: 10_000 })
    .toBe(200);
  await page.goto(`/events/${event}/room`);
  await page.getByRole('button', { name: 'Join the waiting room' }).click();
  await expect(page.locator('[data-position-text]')).toBeVisible();
  await screenshots(page, 'room');
});
