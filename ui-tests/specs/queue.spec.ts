// Checks 12 and 14 on the default server (a 15-minute hold keeps the line still):
// two tabs of one buyer share one place, and a dropped live feed shows the reconnect
// banner, then the fresh position once it is back.
import { audit, liveLog, recordLiveRegions } from '../audit';
import { expect, order, sell, tag, test, type User } from '../fixtures';

async function join(user: User, ticketId: string): Promise<void> {
  await user.page.goto(`/tickets/${ticketId}/queue`);
  await user.page.getByRole('button', { name: 'Join the line' }).click();
  await expect(user.page.locator('[data-position-text]')).toBeVisible();
}

test('12: two tabs of the same buyer show the same place; joining twice keeps the first place', async ({ users }) => {
  const seller = await users('seller');
  const holder = await users('holder');
  const first = await users('first');
  const c = await users('c');
  const ticket = await sell(seller, `Two tabs ${tag()}`, 20);
  await order(holder, ticket.id);
  await join(first, ticket.id);
  await join(c, ticket.id);
  await expect(c.page.locator('[data-position-text]')).toHaveText('You are #2 of 2');
  await audit(c.page, 'queue: waiting');

  const second = await c.context.newPage();
  await second.goto(`/tickets/${ticket.id}/queue`);
  const join2 = second.getByRole('button', { name: 'Join the line' });
  if (await join2.isVisible()) await join2.click();
  await expect(second.locator('[data-position-text]')).toHaveText('You are #2 of 2');
  await expect(c.page.locator('[data-position-text]')).toHaveText('You are #2 of 2');

  // Joining again through the API keeps the place too (contract §8).
  const again = await c.context.request.post(`/api/queue/${ticket.id}`, { data: {} });
  expect(again.status()).toBe(202);
  expect((await again.json()).position).toBe(2);
});

test('14: SSE blocked → "Reconnecting… your place is kept"; unblocked → the position is refreshed', async ({ users }) => {
  const seller = await users('seller');
  const holder = await users('holder');
  const first = await users('first');
  const c = await users('c');
  const ticket = await sell(seller, `Reconnect ${tag()}`, 20);
  await order(holder, ticket.id);
  await join(first, ticket.id);
  await join(c, ticket.id);
  await expect(c.page.locator('[data-position-text]')).toHaveText('You are #2 of 2');

  // Cut the live feed: every (re)connection to /events fails.
  await recordLiveRegions(c.page);
  await c.page.route(/\/events(\?|$)/, (route) => route.abort('connectionreset'));
  await c.page.reload();
  const banner = c.page.getByText('Reconnecting… your place is kept');
  await expect(banner).toBeVisible({ timeout: 10_000 });
  await audit(c.page, 'queue: reconnecting');

  // Meanwhile the first in line leaves; once the feed is back, C sees #1.
  const left = await first.context.request.delete(`/api/queue/${ticket.id}`);
  expect(left.status()).toBe(204);
  await c.page.unroute(/\/events(\?|$)/);
  await expect(c.page.locator('[data-position-text]')).toHaveText('You are #1 of 1', { timeout: 15_000 });
  await expect(banner).toBeHidden();
  await expect(c.page).toHaveTitle(/^#1 of 1 – /);

  // 16: what C's polite regions said, in order: the banner (once per drop), then the move.
  const said = (await liveLog(c.page)).map((e) => e.text);
  expect(said.filter((text) => text !== 'Reconnecting… your place is kept')).toEqual(['You are #1 of 1.']);
  expect(said[0]).toBe('Reconnecting… your place is kept');
});
