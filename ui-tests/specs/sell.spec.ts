// Check 3: the sell form's error summary and inline errors, then a fixed listing in
// My listings. Also 15/18/20 on the form with errors (My listings at 320 px: pages.spec.ts).
import { audit, expectNoAxeViolations, expectPageStructure } from '../audit';
import { expect, tag, test } from '../fixtures';

test('3: sell with an empty title and price 0 → focused summary whose links focus the fields; fixed → in My listings', async ({
  users,
}) => {
  const { page } = await users('seller');
  await page.goto('/sell');
  await audit(page, 'sell form');
  await page.getByLabel('Title').fill('');
  await page.getByLabel(/^Price/).fill('0');
  const [response] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === '/sell' && r.request().method() === 'POST'),
    page.locator('main').getByRole('button', { name: 'Sell', exact: true }).click(),
  ]);
  expect(response.status()).toBe(400);
  await expect(page).toHaveTitle(/^Error: /);

  const summary = page.locator('#error-summary');
  await expect(summary).toBeFocused();
  const links = summary.getByRole('link');
  await expect(links).toHaveText(['Title is required', 'Price must be greater than 0']);
  await links.nth(0).click();
  await expect(page.getByLabel('Title')).toBeFocused();
  await links.nth(1).click();
  await expect(page.getByLabel(/^Price/)).toBeFocused();
  for (const field of [page.getByLabel('Title'), page.getByLabel(/^Price/)]) {
    await expect(field).toHaveAttribute('aria-invalid', 'true');
    const described = (await field.getAttribute('aria-describedby')) ?? '';
    const errorId = described.split(/\s+/).find((id) => id.endsWith('-error'));
    expect(errorId, 'aria-describedby names the inline error').toBeTruthy();
    await expect(page.locator(`#${errorId}`)).toBeVisible();
  }
  await audit(page, 'sell form with errors');

  const title = `Fixed listing ${tag()}`;
  await page.getByLabel('Title').fill(title);
  await page.getByLabel(/^Price/).fill('12.50');
  await page.locator('main').getByRole('button', { name: 'Sell', exact: true }).click();
  await expect(page).toHaveURL(/\/my\/listings/);
  await expect(page.getByRole('status')).toBeVisible();
  const row = page.getByRole('row').filter({ hasText: title });
  await expect(row).toContainText('12.50');
  await expect(row).toContainText('Available');
  await expectPageStructure(page, 'my listings');
  await expectNoAxeViolations(page, 'my listings');
});
