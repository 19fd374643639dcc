// What every spec shares: which server a project talks to, fresh users (each in its own
// browser context, signed up through the API so the cookie lands in that context), and
// quick API calls for setting the scene (a ticket to buy, an order to pay).
import { scriptless } from './audit';
import { test as base, expect, type Browser, type BrowserContext, type Page } from '@playwright/test';

export type ServerOptions = { server: 'default' | 'short' | 'stripe' };

export const PASSWORD = 'correct horse battery';

let counter = 0;
/** A unique, readable email per call and run. */
export function email(who: string): string {
  counter += 1;
  return `${who}-${process.pid}-${Date.now().toString(36)}-${counter}@example.com`;
}

/** A unique word to put in titles so searches find only this test's tickets. */
export function tag(prefix = 't'): string {
  counter += 1;
  return `${prefix}${process.pid.toString(36)}${Date.now().toString(36)}${counter}`;
}

export type User = { email: string; id: string; context: BrowserContext; page: Page };

export type Ticket = { id: string; title: string; price: number; status: string };
export type Order = { id: string; status: string; expiresAt: string; cancelReason: string | null };

/** Signs a new user up in a new browser context (JavaScript on unless told otherwise). */
export async function newUser(
  browser: Browser,
  baseURL: string,
  who: string,
  options: { javaScriptEnabled?: boolean } = {},
): Promise<User> {
  const context = await browser.newContext({ baseURL, ...options });
  if (options.javaScriptEnabled === false) scriptless.add(context);
  const address = email(who);
  const res = await context.request.post('/api/users/signup', {
    data: { email: address, password: PASSWORD },
  });
  expect(res.status(), await res.text()).toBe(201);
  const { id } = await res.json();
  const page = await context.newPage();
  return { email: address, id, context, page };
}

/** Lists a ticket as `seller` through the API. */
export async function sell(seller: User, title: string, price: number, description = ''): Promise<Ticket> {
  const res = await seller.context.request.post('/api/tickets', { data: { title, price, description } });
  expect(res.status(), await res.text()).toBe(201);
  return res.json();
}

/**
 * Orders `ticket` as `buyer` through the API (the UI's Buy is tested on its own), and
 * waits until the tickets service has heard of it (it learns by event), so that every
 * page shows the ticket as reserved.
 */
export async function order(buyer: User, ticketId: string): Promise<Order> {
  const res = await buyer.context.request.post('/api/orders', { data: { ticketId } });
  expect(res.status(), await res.text()).toBe(201);
  const placed: Order = await res.json();
  await expect.poll(async () => (await getTicket(buyer, ticketId)).status, { intervals: [50, 100, 250] }).toBe('reserved');
  return placed;
}

export async function getOrder(user: User, id: string): Promise<Order> {
  const res = await user.context.request.get(`/api/orders/${id}`);
  expect(res.status(), await res.text()).toBe(200);
  return res.json();
}

export async function getTicket(user: User, id: string): Promise<Ticket> {
  const res = await user.context.request.get(`/api/tickets/${id}`);
  expect(res.status(), await res.text()).toBe(200);
  return res.json();
}

/** Buys `ticketId` in the page: the ticket page's Buy button, then checkout's URL. */
export async function buyInPage(page: Page, ticketId: string): Promise<string> {
  await page.goto(`/tickets/${ticketId}`);
  await page.getByRole('button', { name: 'Buy', exact: true }).click();
  await expect(page).toHaveURL(/\/orders\/[0-9a-f-]+$/);
  return new URL(page.url()).pathname.split('/').pop()!;
}

/** Picks a test card on the checkout page (radio mapped to the token) and presses Pay. */
export async function pay(page: Page, token: string): Promise<void> {
  await page.locator(`input[type=radio][value="${token}"]`).check();
  await page.getByRole('button', { name: /^Pay/ }).click();
}

/**
 * The confirmation for `title`. A payment the provider settles by webhook (3-D Secure)
 * may still be reaching the order when the page loads: the page then says "Payment in
 * progress" with a "Check again" link, which a buyer would follow — so does this.
 */
export async function expectBought(page: Page, title: string): Promise<void> {
  const heading = page.getByRole('heading', { level: 1 });
  await expect(async () => {
    const again = page.getByRole('link', { name: 'Check again' });
    if (await again.isVisible()) await again.click();
    await expect(heading).toHaveText(`You bought ${title}`, { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
}

export const test = base.extend<ServerOptions & { users: (who: string, js?: boolean) => Promise<User> }>({
  server: ['default', { option: true }],
  baseURL: async ({ server }, use) => {
    const variable = { default: 'BOXOFFICE_URL', short: 'BOXOFFICE_SHORT_URL', stripe: 'BOXOFFICE_STRIPE_URL' }[server];
    const url = process.env[variable];
    if (!url) throw new Error('the servers are started by global-setup.ts; run through playwright test');
    await use(url);
  },
  users: async ({ browser, baseURL }, use) => {
    const made: User[] = [];
    await use(async (who, js = true) => {
      const user = await newUser(browser, baseURL!, who, { javaScriptEnabled: js });
      made.push(user);
      return user;
    });
    for (const user of made) await user.context.close();
  },
});

export { expect };
