// A session that ends — revoked elsewhere or expired — returns the page to
// the login form with a word why; the view in the URL is kept, so logging in
// again goes back to it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { besides, rest, screenshot, settled, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser();

const EMAIL = 'session-ui@example.com';
const PASSWORD = 'correct horse battery';

async function logIn(page) {
  await page.fill('#email', EMAIL);
  await page.fill('#password', PASSWORD);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app-view:not([hidden])');
}

async function endsAtLogin(page, hash) {
  await page.waitForSelector('#auth-view:not([hidden])');
  assert.equal(await page.isHidden('#app-view'), true);
  assert.match(await page.textContent('#message'), /session has ended/);
  assert.equal(await page.evaluate(() => localStorage.getItem('taskstream.token')), null, 'the token is forgotten');
  assert.equal(await page.evaluate(() => location.hash), hash, 'the view stays in the URL');
}

test('a session revoked elsewhere returns to login, and logging in again shows the same view', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, EMAIL, PASSWORD);
  const made = await rest(page, ctx.app.base, 'POST', '/api/v1/tasks', { title: 'Done before' });
  await rest(page, ctx.app.base, 'POST', `/api/v1/tasks/${made.body.id}/complete`);
  await page.click('#view-list a[href="#/completed"]');
  await page.waitForSelector('#task-list li.task:has-text("Done before")');
  await page.waitForSelector('#live-state[data-state="live"]');
  // The two changes' live refreshes are done: no request of the page is
  // left to meet the revoked token, so only the socket can tell it.
  await settled(page);

  // Logging out with the page's token elsewhere ends it everywhere: the
  // server closes the page's socket, and the page notices without a click.
  assert.equal((await rest(page, ctx.app.base, 'POST', '/api/auth/logout')).status, 204);
  await endsAtLogin(page, '#/completed');

  await logIn(page);
  await page.waitForSelector('#task-list li.task:has-text("Done before")');
  assert.equal(await page.textContent('#view-title'), 'Completed');
  assert.deepEqual(problems, []);
});

test('a page opened with a session that no longer works asks to log in and keeps its view', async () => {
  const { page, problems } = ctx.session;
  await page.click('#view-list a[href="#/upcoming"]');
  await page.waitForFunction(() => document.querySelector('#view-title').textContent === 'Upcoming');
  const token = await page.evaluate(() => localStorage.getItem('taskstream.token'));
  assert.equal((await rest(page, ctx.app.base, 'POST', '/api/auth/logout')).status, 204);
  // The open page learns it from its socket and forgets the token; only then
  // is the stale token put back, as a tab opened long ago would still hold
  // it, so the reloaded page's first request is the one refused.
  await endsAtLogin(page, '#/upcoming');
  await page.evaluate((t) => localStorage.setItem('taskstream.token', t), token);
  await page.reload();
  await endsAtLogin(page, '#/upcoming');

  await logIn(page);
  await page.waitForFunction(() => document.querySelector('#view-title').textContent === 'Upcoming');
  assert.equal(await page.getAttribute('#view-list a[href="#/upcoming"]', 'aria-current'), 'page');
  assert.deepEqual(besides(problems, 401), []);
});

test('a refused sign-up or log-in says why by the field or form that caused it', async () => {
  const { page, problems } = ctx.session;
  await page.click('#logout');
  await page.waitForSelector('#auth-view:not([hidden])');
  await page.fill('#signup-email', 'short-password@example.com');
  await page.fill('#signup-password', 'abc');
  await page.click('#signup-form button[type=submit]');
  await page.waitForSelector('#signup-password[aria-invalid="true"]');
  assert.match(await page.textContent('#signup-password-error'), /at least 8 characters/);
  assert.equal(await page.isHidden('#message'), true);

  // Taken, and a wrong password: not about one field, said at the form's end.
  await page.fill('#signup-email', EMAIL);
  await page.fill('#signup-password', 'long enough now');
  await page.click('#signup-form button[type=submit]');
  await page.waitForSelector('#signup-form .form-error');
  assert.match(await page.textContent('#signup-form .form-error'), /^An account with this e-mail address already exists$/);
  await screenshot(page, 'auth-refused');
  assert.equal(await page.getAttribute('#signup-password', 'aria-invalid'), null, 'the old mark is gone');

  await page.fill('#email', EMAIL);
  await page.fill('#password', 'not the password');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#login-form .form-error');
  assert.match(await page.textContent('#login-form .form-error'), /^Invalid e-mail or password$/);
  await logIn(page);
  assert.equal(await page.locator('.form-error').count(), 0, 'a success clears the refusals');
  assert.deepEqual(besides(problems, 401, 409, 422), []);
});
