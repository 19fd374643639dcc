// An event's waiting room (CONTRACT §12) in the browser: a buyer joins before the sale
// opens, is let in when it opens (the live feed shows the turn), and buys through the
// event page with the admission the room page handed the browser as a cookie; a buyer
// without JavaScript does the same by reloading. Each state passes the page checks.
import { audit } from '../audit';
import { expect, tag, test, type User } from '../fixtures';

/** An event with `seats` tickets behind a room opening in `opensIn` seconds. */
async function eventWithRoom(creator: User, seats: number, opensIn: number): Promise<string> {
  const startsAt = new Date(Date.now() + 30 * 24 * 3600 * 1000).toISOString();
  const created = await creator.context.request.post('/api/events', {
    data: { name: `Room sale ${tag()}`, venue: 'Arena', startsAt },
  });
  expect(created.status()).toBe(201);
  const event: string = (await created.json()).id;
  for (let seat = 1; seat <= seats; seat++) {
    const listed = await creator.context.request.post('/api/tickets', {
      data: { title: `Seat ${seat}`, price: 30, eventId: event },
    });
    expect(listed.status()).toBe(201);
  }
  const opensAt = new Date(Date.now() + opensIn * 1000).toISOString();
  // The queue service hears of the event through its events: a 404 may come first.
  await expect
    .poll(async () => (await creator.context.request.put(`/api/events/${event}/room`, {
      data: { opensAt, perAccountLimit: 1 },
    })).status(), { timeout: 10_000 })
    .toBe(200);
  return event;
}

test('room: joined before the opening, let in live, buys with the admission', async ({ users }) => {
  test.setTimeout(60_000);
  const creator = await users('creator');
  const buyer = await users('buyer');
  // Long enough before the opening for two pages, an audit and the join on a busy
  // machine: a buyer who joins after the opening is let in at once, with no prequeue.
  const event = await eventWithRoom(creator, 1, 15);
  const page = buyer.page;

  await page.goto(`/events/${event}`);
  await expect(page.getByRole('heading', { name: 'This sale has a waiting room' })).toBeVisible();
  await page.getByRole('link', { name: 'Go to the waiting room' }).click();
  await audit(page, 'room: not joined');
  await page.getByRole('button', { name: 'Join the waiting room' }).click();
  await expect(page.locator('[data-position-text]'))
    .toHaveText('You are in. Your place is drawn when the sale opens.');
  await audit(page, 'room: prequeue');

  // Not let in yet: buying is refused with the contract's words.
  await page.goto(`/events/${event}`);
  await page.getByLabel(/Seat 1/).check();
  await page.getByRole('button', { name: 'Buy selected tickets' }).click();
  await expect(page.getByText('Waiting room admission required')).toBeVisible();

  await page.goto(`/events/${event}/room`);
  const turn = page.getByRole('heading', { name: "It's your turn" });
  await expect(turn).toBeVisible({ timeout: 30_000 });
  await expect(page).toHaveTitle(/^It's your turn – /);
  await audit(page, 'room: admitted');

  await page.getByRole('link', { name: 'Choose your tickets' }).click();
  await page.getByLabel(/Seat 1/).check();
  await page.getByRole('button', { name: 'Buy selected tickets' }).click();
  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]+$/);
});

test('room without JavaScript: join, reload until let in, buy', async ({ users }) => {
  const creator = await users('creator');
  const buyer = await users('nojs-buyer', false);
  const event = await eventWithRoom(creator, 1, 3);
  const page = buyer.page;

  await page.goto(`/events/${event}/room`);
  await page.getByRole('button', { name: 'Join the waiting room' }).click();
  await expect(page.locator('[data-position-text]')).toBeVisible();
  await audit(page, 'room: prequeue, no JavaScript');

  const turn = page.getByRole('heading', { name: "It's your turn" });
  await expect(async () => {
    await page.getByRole('link', { name: 'Check my place' }).click();
    await expect(turn).toBeVisible({ timeout: 1_000 });
  }).toPass({ timeout: 20_000 });
  await page.getByRole('link', { name: 'Choose your tickets' }).click();
  await page.getByLabel(/Seat 1/).check();
  await page.getByRole('button', { name: 'Buy selected tickets' }).click();
  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]+$/);
});
