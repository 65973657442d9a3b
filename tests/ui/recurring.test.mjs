// A recurring task: completing it shows its next occurrence appear; the
// skip button moves it to the one after; its reminder shows on the row.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rest, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

test('completing a recurring task brings its next occurrence; skip moves it on', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'recurring-ui@example.com');
  await page.fill('#quick-add-text', 'Stretch every day 9am remind me 15 min before');
  await page.press('#quick-add-text', 'Enter');
  const row = page.locator('#task-list li.task', { hasText: 'Stretch' });
  await row.waitFor();
  assert.match(await row.textContent(), /↻ daily/);
  assert.match(await row.textContent(), /reminder 15 min before/);
  const firstId = await row.getAttribute('data-id');
  const first = (await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${firstId}`)).body;

  await row.locator('.task-toggle').click();
  await page.waitForFunction((id) => {
    const rows = [...document.querySelectorAll('#task-list li.task')];
    return rows.length === 1 && rows[0].dataset.id !== id && /Stretch/.test(rows[0].textContent);
  }, firstId);
  const nextId = await page.locator('#task-list li.task').getAttribute('data-id');
  const next = (await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${nextId}`)).body;
  assert.equal(next.parent_task_id, firstId);
  assert.equal(Date.parse(next.due_at) - Date.parse(first.due_at), 86_400_000, 'the next day, 09:00');

  await page.click('#task-list li.task .task-skip');
  await page.waitForFunction(async ([base, id, due]) => {
    const token = localStorage.getItem('taskstream.token');
    const task = await (await fetch(`${base}/api/v1/tasks/${id}`, { headers: { Authorization: `Bearer ${token}` } })).json();
    return Date.parse(task.due_at) - Date.parse(due) === 86_400_000;
  }, [ctx.app.base, nextId, next.due_at]);
  assert.deepEqual(problems, []);
});
