// Checks 1, 2 and 19: signing up, in and out in the browser.
import { audit, expectNoAxeViolations } from '../audit';
import { email, expect, PASSWORD, test } from '../fixtures';

test('1: sign up sets an HttpOnly cookie and shows Sign out; sign out clears it and /orders asks to sign in', async ({
  page,
  context,
}) => {
  await page.goto('/signup');
  await audit(page, 'sign-up page');
  await page.getByLabel('Email address').fill(email('ann'));
  await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
  await page.locator('main').getByRole('button', { name: 'Sign up' }).click();

  const signOut = page.getByRole('banner').getByRole('button', { name: /^Sign out/ });
  await expect(signOut).toBeVisible();
  const session = (await context.cookies()).find((c) => c.name === 'session');
  expect(session, 'session cookie after sign-up').toBeDefined();
  expect(session!.httpOnly).toBe(true);
  expect(session!.sameSite).toBe('Lax');

  await signOut.click();
  await expect(page.getByRole('banner').getByRole('link', { name: 'Sign in' })).toBeVisible();
  expect((await context.cookies()).find((c) => c.name === 'session')).toBeUndefined();

  await page.goto('/orders');
  await expect(page).toHaveURL(/\/signin\?next=(%2F|\/)orders$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Sign in');
});

test('2: wrong password and unknown email get the same message and status', async ({ page, users }) => {
  const ann = await users('ann');
  const answers: { status: number; title: string; summary: string }[] = [];
  for (const address of [ann.email, email('nobody')]) {
    await page.goto('/signin');
    await page.getByLabel('Email address').fill(address);
    await page.getByLabel('Password', { exact: true }).fill('not the password');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/signin') && r.request().method() === 'POST'),
      page.locator('main').getByRole('button', { name: 'Sign in' }).click(),
    ]);
    const summary = page.locator('#error-summary');
    await expect(summary).toBeFocused();
    answers.push({ status: response.status(), title: await page.title(), summary: (await summary.innerText()).trim() });
  }
  expect(answers[0].status).toBe(400);
  expect(answers[0].summary).toContain('Invalid credentials');
  expect(answers[0].title).toBe('Error: Sign in – BoxOffice');
  expect(answers[1]).toEqual(answers[0]);
  await expectNoAxeViolations(page, 'sign-in with an error');
});

test('19: sign-in and sign-up fields carry autocomplete and accept paste', async ({ page, context }) => {
  for (const [path, passwordAutocomplete] of [
    ['/signin', 'current-password'],
    ['/signup', 'new-password'],
  ]) {
    await page.goto(path);
    const emailField = page.getByLabel('Email address');
    const password = page.getByLabel('Password', { exact: true });
    await expect(emailField).toHaveAttribute('autocomplete', 'email');
    await expect(password).toHaveAttribute('autocomplete', passwordAutocomplete);
    await audit(page, path);
    for (const field of [emailField, password]) {
      // A real paste event: nothing may cancel it, and the text must land in the field.
      const pasted = await field.evaluate((el: HTMLInputElement) => {
        el.value = '';
        el.focus();
        const data = new DataTransfer();
        data.setData('text/plain', 'pasted@example.com');
        const event = new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true });
        const allowed = el.dispatchEvent(event);
        if (allowed) document.execCommand('insertText', false, 'pasted@example.com');
        return { allowed, value: el.value };
      });
      expect(pasted).toEqual({ allowed: true, value: 'pasted@example.com' });
    }
  }
  await context.clearCookies();
});
