// Page 7 and 8 in Stripe mode: the card is collected by Stripe.js (the stand-in of
// stripe-double.ts) and only a PaymentMethod id reaches BoxOffice; a declined card shows
// Stripe's words; 3-D Secure runs through `handleNextAction` and the order completes when
// Stripe's signed webhook says the amount is authorized.
import type { Page } from '@playwright/test';
import { audit } from '../../audit';
import { buyInPage, expect, expectBought, getOrder, sell, tag, test, type User } from '../../fixtures';
import { stripeWebhook, useStripeDouble } from '../../stripe-double';

async function fillCard(page: Page, number: string): Promise<void> {
  await page.getByLabel('Card number').fill(number);
  await page.getByLabel('Expiry date MM/YY').fill('12/30');
  await page.getByLabel('Security code').fill('123');
}

/** The Stripe PaymentIntent behind payment `id`, from its client secret. */
async function intentOf(buyer: User, id: string): Promise<string> {
  const res = await buyer.context.request.get(`/api/payments/${id}`);
  expect(res.status(), await res.text()).toBe(200);
  const { clientSecret } = await res.json();
  return String(clientSecret).split('_secret_')[0];
}

test('Stripe: a card → confirmation, and no card number is posted to BoxOffice', async ({ users }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Stripe gig ${tag()}`, 30);
  const page = buyer.page;
  await useStripeDouble(page);
  const posted: string[] = [];
  page.on('request', (request) => {
    if (request.method() === 'POST' && !request.url().startsWith('https://api.stripe.test')) {
      posted.push(request.postData() ?? '');
    }
  });

  const orderId = await buyInPage(page, ticket.id);
  const payButton = page.getByRole('button', { name: /^Pay/ });
  await expect(payButton).toBeEnabled();
  await expect(page.getByText('Paying by card needs JavaScript')).toBeHidden();
  await fillCard(page, '4242 4242 4242 4242');
  await audit(page, 'checkout with Stripe');
  await payButton.click();
  await expectBought(page, ticket.title);
  expect((await getOrder(buyer, orderId)).status).toBe('complete');
  expect(posted.filter((body) => /4242\D?4242\D?4242\D?4242/.test(body))).toEqual([]);
  expect(posted.some((body) => /token=pm_/.test(body))).toBe(true);
});

test('Stripe: a declined card → Stripe\'s words beside the field, Pay usable again', async ({ users }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Stripe declined ${tag()}`, 12);
  const page = buyer.page;
  await useStripeDouble(page);
  const orderId = await buyInPage(page, ticket.id);

  await fillCard(page, '4000000000000341');
  await page.getByRole('button', { name: /^Pay/ }).click();
  const summary = page.locator('#error-summary');
  await expect(summary).toBeVisible();
  await expect(summary).toBeFocused();
  await expect(page).toHaveTitle(/^Error: /);
  // The form is a new one (a new idempotency key) with Stripe's field mounted again.
  await expect(page.getByRole('button', { name: /^Pay/ })).toBeEnabled();
  await expect(page.getByLabel('Card number')).toBeEditable();
  expect((await getOrder(buyer, orderId)).status).toBe('created');
  await audit(page, 'checkout with Stripe, declined');

  await fillCard(page, '4242424242424242');
  await page.getByRole('button', { name: /^Pay/ }).click();
  await expectBought(page, ticket.title);
});

test('Stripe: 3-D Secure through handleNextAction, failed, then completed', async ({ users, baseURL }) => {
  const seller = await users('seller');
  const buyer = await users('buyer');
  const ticket = await sell(seller, `Stripe 3DS ${tag()}`, 55);
  const page = buyer.page;
  await useStripeDouble(page);
  const orderId = await buyInPage(page, ticket.id);

  // Fail first: back to the checkout, told so, the hold still counting.
  await fillCard(page, '4000000000003220');
  await page.getByRole('button', { name: /^Pay/ }).click();
  await expect(page).toHaveURL(/\/authenticate\?payment=/);
  const failedPayment = new URL(page.url()).searchParams.get('payment')!;
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Confirm your payment');
  await page.getByRole('button', { name: 'Fail authentication' }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${orderId}\\?done=auth_failed`));
  // Stripe tells the server by webhook that the payment failed.
  await stripeWebhook(baseURL!, 'payment_intent.payment_failed', await intentOf(buyer, failedPayment), 'requires_payment_method');
  await expect(async () => {
    const again = page.getByRole('link', { name: 'Check again' });
    if (await again.isVisible()) await again.click();
    await expect(page.locator('#error-summary')).toContainText('Authentication failed', { timeout: 1_000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByRole('timer')).toHaveText(/^\d\d:\d\d$/);

  // Then complete it: "Payment in progress" until Stripe's webhook, then the confirmation.
  await fillCard(page, '4000000000003220');
  await page.getByRole('button', { name: /^Pay/ }).click();
  await expect(page).toHaveURL(/\/authenticate\?payment=/);
  const payment = new URL(page.url()).searchParams.get('payment')!;
  await page.getByRole('button', { name: 'Complete authentication' }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${orderId}\\?done=processing`));
  await expect(page.getByRole('heading', { name: 'Payment in progress' })).toBeVisible();
  await audit(page, 'payment in progress with Stripe');
  await stripeWebhook(baseURL!, 'payment_intent.amount_capturable_updated', await intentOf(buyer, payment), 'requires_capture');
  await expectBought(page, ticket.title);
});
