// The live connection across a server restart: the badge turns to
// reconnecting, then back to live, and what changed while the page was cut
// off is replayed into it — without a reload and without duplicates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rest, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

const titles = (page) => page.$$eval('#task-list li.task .task-title', (nodes) => nodes.map((n) => n.textContent));

test('after a server restart the page reconnects and catches up', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'reconnect-ui@example.com');
  await page.waitForSelector('#live-state[data-state="live"]');
  await rest(page, ctx.app.base, 'POST', '/api/v1/tasks', { title: 'Before the restart' });
  await page.locator('#task-list .task-title', { hasText: 'Before the restart' }).waitFor();
  const token = await page.evaluate(() => localStorage.getItem('taskstream.token'));

  await ctx.app.halt();
  await page.waitForSelector('#live-state[data-state="reconnecting"]');
  assert.equal(await page.textContent('#live-state'), 'Reconnecting…');
  // An action meanwhile says the server cannot be reached, in words.
  await page.click('#task-list li.task .task-toggle');
  await page.waitForSelector('#message.error:not([hidden])');
  assert.match(await page.textContent('#message'), /Cannot reach the server/);

  // Back up; a change lands before the page has reconnected.
  await ctx.app.resume();
  const made = await fetch(`${ctx.app.base}/api/v1/tasks`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: 'While it was away' }),
  });
  assert.equal(made.status, 201);
  await page.waitForSelector('#live-state[data-state="live"]', { timeout: 10_000 });
  await page.waitForSelector('#message', { state: 'hidden' });
  await page.locator('#task-list .task-title', { hasText: 'While it was away' }).waitFor({ timeout: 5000 });
  assert.deepEqual(await titles(page), ['While it was away', 'Before the restart']);
  // Problems the restart itself causes (a refused connection) are not the page's.
  assert.deepEqual(problems.filter((p) => !/ERR_CONNECTION_REFUSED|WebSocket/.test(p)), []);
});
