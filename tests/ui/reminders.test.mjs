// A reminder that fires shows as a toast in the open page, and the activity
// view lists what happened, live.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rest, screenshot, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

test('a reminder due in two seconds shows a toast, and the activity view tells it', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'reminders-ui@example.com');
  await page.waitForSelector('#live-state[data-state="live"]');

  const due = new Date(Date.now() + 3_600_000).toISOString();
  const { body: task } = await rest(page, ctx.app.base, 'POST', '/api/v1/tasks', { title: 'Stretch', due_at: due });
  const remindAt = new Date(Date.now() + 2000).toISOString();
  const set = await rest(page, ctx.app.base, 'POST', `/api/v1/tasks/${task.id}/reminder`, { remind_at: remindAt });
  assert.equal(set.status, 200, JSON.stringify(set.body));

  const toast = page.locator('#toasts .toast', { hasText: 'Reminder: Stretch' });
  await toast.waitFor({ timeout: 10_000 });
  const shownAt = Date.now();
  assert.ok(shownAt - Date.parse(remindAt) < 5000, 'shown within seconds of its time');
  assert.match(await toast.textContent(), /due today \d\d:\d\d|due tomorrow \d\d:\d\d/);
  await screenshot(page, 'reminder-toast');
  await toast.locator('.toast-close').click();
  assert.equal(await page.locator('#toasts .toast').count(), 0, 'dismissed');

  await page.click('#view-list a[href="#/activity"]');
  await page.waitForFunction(() => document.querySelectorAll('#task-list li.activity').length >= 3);
  const summaries = await page.$$eval('#task-list li.activity .activity-summary', (nodes) => nodes.map((n) => n.textContent));
  assert.ok(summaries.some((s) => /Stretch/.test(s)), summaries.join(' | '));
  assert.equal(await page.isHidden('.toolbar'), true, 'no task filters over the log');

  // Live: a change made elsewhere appears at the top without a reload.
  await rest(page, ctx.app.base, 'POST', '/api/v1/tasks', { title: 'Made elsewhere' });
  await page.waitForFunction(() => /Made elsewhere/.test(document.querySelector('#task-list li.activity')?.textContent || ''));
  assert.deepEqual(problems, []);
});
