// Check 4: browsing with search, price range, sort and paging keeps everything in the
// address (bookmarkable) and shows the API's X-Total-Count. Also the empty state.
import { audit } from '../audit';
import { expect, sell, tag, test } from '../fixtures';

test('4: search, price range, sort by -price and page 2 are in the URL; the total count is shown', async ({
  users,
  page,
}) => {
  const seller = await users('seller');
  const word = tag('browse');
  for (let price = 1; price <= 25; price += 1) {
    await sell(seller, `Gig ${word} seat ${price}`, price);
  }

  await page.goto('/');
  await page.getByLabel('Search titles').fill(word);
  await page.getByLabel('Lowest price').fill('3');
  await page.getByLabel('Highest price').fill('24');
  await page.getByLabel('Sort by').selectOption('-price');
  await page.getByRole('button', { name: 'Apply' }).click();

  const query = new URL(page.url()).searchParams;
  expect(query.get('q')).toBe(word);
  expect(query.get('minPrice')).toBe('3');
  expect(query.get('maxPrice')).toBe('24');
  expect(query.get('sort')).toBe('-price');
  // 3..24 is 22 tickets: what the API's X-Total-Count says, and two pages of 20.
  const api = await page.request.get(`/api/tickets?q=${word}&minPrice=3&maxPrice=24&limit=1`);
  expect(api.headers()['x-total-count']).toBe('22');
  await expect(page.locator('main')).toContainText('22 tickets');
  await expect(page.locator('main')).toContainText('Page 1 of 2');
  await expect(page.locator('.card h2').first()).toHaveText(`Gig ${word} seat 24`);

  await page.locator('a[rel=next]').click();
  const page2 = new URL(page.url()).searchParams;
  expect(page2.get('page')).toBe('2');
  expect(page2.get('q')).toBe(word);
  expect(page2.get('sort')).toBe('-price');
  expect(page2.get('minPrice')).toBe('3');
  await expect(page.locator('main')).toContainText('Page 2 of 2');
  await expect(page.locator('.card h2')).toHaveText([`Gig ${word} seat 4`, `Gig ${word} seat 3`]);
  await expect(page.locator('a[rel=prev]')).toBeVisible();

  // Bookmarkable: the same address in a fresh page shows the same list.
  const again = await page.context().newPage();
  await again.goto(page.url());
  await expect(again.locator('.card h2')).toHaveText([`Gig ${word} seat 4`, `Gig ${word} seat 3`]);
  await again.close();
});

test('15/18/20: browse with no matches says so and offers to clear the filters', async ({ page }) => {
  await page.goto(`/?q=${tag('nothing')}`);
  await expect(page.locator('main')).toContainText('No tickets match');
  await expect(page.getByRole('link', { name: 'clear filters' })).toHaveAttribute('href', '/');
  await audit(page, 'empty browse');
});

test('15/18/20: a bad price filter is shown beside the field, status 400', async ({ page }) => {
  const response = await page.goto('/?minPrice=abc');
  expect(response!.status()).toBe(400);
  await expect(page.getByLabel('Lowest price')).toHaveAttribute('aria-invalid', 'true');
  await audit(page, 'browse with a bad filter');
});

test('15/18/20: unknown page and malformed ticket id are 404 inside the layout', async ({ page }) => {
  for (const path of ['/no-such-page', '/tickets/not-an-id', '/tickets/01890000-0000-7000-8000-000000000000']) {
    const response = await page.goto(path);
    expect(response!.status(), path).toBe(404);
    await expect(page.getByRole('heading', { level: 1 })).toHaveText('Not found');
    await expect(page.getByRole('banner')).toBeVisible();
    await audit(page, `404 ${path}`);
  }
});
