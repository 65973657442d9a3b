// API tokens from the settings view: created with the secret shown once,
// listed, usable as a Bearer token, and revoked at once.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { besides, screenshot, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser();

const bearer = (secret) => ({ headers: { Authorization: `Bearer ${secret}` } });

test('a token is created, listed, used and revoked from the settings view', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'tokens-ui@example.com');

  await page.click('#settings-toggle');
  await page.waitForSelector('#settings-view:not([hidden])');
  assert.equal(await page.isHidden('#app-view'), true, 'settings replace the task view');
  assert.equal(await page.isVisible('#token-empty'), true, 'no tokens yet');

  await page.fill('#token-name', 'Assistant on my laptop');
  await page.selectOption('#token-scope', 'read');
  await page.selectOption('#token-expiry', '30');
  await page.click('#token-form button[type=submit]');
  await page.waitForSelector('#token-secret:not([hidden])');
  const secret = await page.inputValue('#token-secret-value');
  assert.match(secret, /^tsk_[0-9a-f]{64}$/);

  const row = page.locator('#token-list tr');
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  const cells = await row.first().locator('td').allTextContents();
  assert.equal(cells[0], 'Assistant on my laptop');
  assert.equal(cells[1], 'Read only');
  assert.equal(cells[3], 'Never', 'not used yet');
  assert.notEqual(cells[4], 'Never', 'expires in 30 days');
  assert.equal((await page.textContent('#token-list')).includes(secret), false,
    'the list never shows a secret');
  await screenshot(page, 'settings-token-created');

  // The secret works as a Bearer token, for reading only.
  const read = await fetch(`${ctx.app.base}/api/v1/tasks`, bearer(secret));
  assert.equal(read.status, 200);
  const write = await fetch(`${ctx.app.base}/api/v1/tasks`, {
    method: 'POST',
    headers: { ...bearer(secret).headers, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'not allowed' }),
  });
  assert.equal(write.status, 403);

  // Leaving settings forgets the secret: it is shown only once.
  await page.click('#settings-toggle');
  await page.waitForSelector('#app-view:not([hidden])');
  await page.click('#settings-toggle');
  await page.waitForSelector('#settings-view:not([hidden])');
  assert.equal(await page.isHidden('#token-secret'), true);
  assert.equal(await page.inputValue('#token-secret-value'), '');
  const used = await page.locator('#token-list tr td').nth(3).textContent();
  assert.notEqual(used, 'Never', 'the list shows when it was last used');

  page.once('dialog', (dialog) => dialog.accept());
  await page.click('#token-list .token-revoke');
  await page.waitForSelector('#token-empty:not([hidden])');
  assert.equal(await row.count(), 0);
  await screenshot(page, 'settings-token-revoked');

  const revoked = await fetch(`${ctx.app.base}/api/v1/tasks`, bearer(secret));
  assert.equal(revoked.status, 401);
  assert.deepEqual(problems, []);
});

test('a refused token name shows the field error and creates nothing', async () => {
  const { page, problems } = ctx.session;
  // The page is still in settings from the test before, logged in.
  await page.fill('#token-name', '   ');
  await page.evaluate(() => { document.querySelector('#token-name').required = false; });
  await page.click('#token-form button[type=submit]');
  // Under the field it is about, not in the message line.
  await page.waitForSelector('#token-name[aria-invalid="true"]');
  assert.match(await page.textContent('#token-name-error'), /\S/);
  assert.equal(await page.getAttribute('#token-name', 'aria-errormessage'), 'token-name-error');
  assert.equal(await page.isHidden('#message'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'token-name', 'the field has the focus');
  assert.equal(await page.isVisible('#token-empty'), true);
  assert.equal(await page.isHidden('#token-secret'), true);
  assert.deepEqual(besides(problems, 422), []);
});
