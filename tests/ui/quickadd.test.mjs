// Quick add, the main input: the parts the server reads are highlighted as
// the user types, the task is described before Enter creates it, quoted
// text stays literal, and a line with nothing left for a title is refused
// next to the input.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { besides, screenshot, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

const DEMO = 'high priority weekly meeting for Monday 10 AM #work remind me 30 min before';

async function marks(page) {
  return page.$$eval('#quick-add-highlight mark', (nodes) => nodes.map((n) => [n.dataset.kind, n.textContent]));
}

async function tasksOf(page, base) {
  const token = await page.evaluate(() => localStorage.getItem('taskstream.token'));
  const response = await fetch(`${base}/api/v1/tasks`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(response.status, 200);
  return (await response.json()).items;
}

test('typing highlights what is understood and Enter creates that task', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'quick-add-ui@example.com');

  await page.fill('#quick-add-text', DEMO);
  await page.waitForFunction(() => document.querySelectorAll('#quick-add-highlight mark').length === 6);
  assert.deepEqual(await marks(page), [
    ['priority', 'high priority'],
    ['recurrence', 'weekly'],
    ['date', 'for Monday'],
    ['time', '10 AM'],
    ['tag', '#work'],
    ['reminder', 'remind me 30 min before'],
  ]);
  const preview = await page.textContent('#quick-add-preview');
  assert.match(preview, /^meeting — Mon \d{1,2} [A-Z][a-z]{2}, 10:00 · every week · p2 · #work · reminder 30 minutes before$/);
  // The highlights lie under the letters they mark: the overlay starts
  // where the input's text does.
  const [input, overlay] = await Promise.all(['#quick-add-text', '#quick-add-highlight'].map((s) => page.locator(s).boundingBox()));
  assert.deepEqual([Math.round(overlay.x), Math.round(overlay.y)], [Math.round(input.x), Math.round(input.y)]);
  await screenshot(page, 'quick-add');

  await page.press('#quick-add-text', 'Enter');
  await page.locator('#task-list li.task .task-title', { hasText: 'meeting' }).waitFor();
  assert.equal(await page.inputValue('#quick-add-text'), '', 'the input is ready for the next one');
  assert.equal(await page.textContent('#quick-add-preview'), '');

  const [task] = await tasksOf(page, ctx.app.base);
  assert.equal(task.title, 'meeting');
  assert.equal(task.priority, 'high');
  assert.equal(task.recurrence_pattern, 'weekly');
  assert.deepEqual(task.tags, ['work']);
  assert.equal(task.reminder_offset_minutes, 30);
  const due = new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Europe/Berlin', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
  }).format(new Date(task.due_at));
  assert.equal(due, 'Mon 10:00', 'next Monday at 10:00 in the zone the account was made in');
  assert.deepEqual(problems, []);
});

test('quoted text stays literal, and a line without a title is refused in place', async () => {
  const { page, problems } = ctx.session;
  await page.fill('#quick-add-text', 'Read "next monday" notes tomorrow');
  await page.waitForFunction(() => document.querySelectorAll('#quick-add-highlight mark').length === 1);
  assert.deepEqual(await marks(page), [['date', 'tomorrow']]);
  assert.match(await page.textContent('#quick-add-preview'), /^Read next monday notes — /);

  await page.fill('#quick-add-text', 'tomorrow #home');
  await page.waitForSelector('#quick-add-preview.qa-error');
  assert.match(await page.textContent('#quick-add-preview'), /nothing is left for the title/);
  assert.equal(await page.getAttribute('#quick-add-text', 'aria-invalid'), 'true', 'the input is marked');
  await page.press('#quick-add-text', 'Enter');
  await page.waitForSelector('#quick-add-preview.qa-error');
  assert.equal((await tasksOf(page, ctx.app.base)).length, 1, 'nothing created');
  assert.equal(await page.isHidden('#message'), true, 'the refusal is shown by the input, not as a banner');

  await page.fill('#quick-add-text', 'tomorrow #home for real');
  await page.waitForSelector('#quick-add-preview:not(.qa-error)');
  assert.equal(await page.getAttribute('#quick-add-text', 'aria-invalid'), null, 'and unmarked once it reads');

  const favicon = await fetch(`${ctx.app.base}/favicon.svg`);
  assert.equal(favicon.status, 200);

  await page.setViewportSize({ width: 390, height: 800 });
  await page.fill('#quick-add-text', 'Pay rent every month on the 1st at 9am #finance !2');
  await page.waitForFunction(() => document.querySelectorAll('#quick-add-highlight mark').length === 4);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scroll at 390 px (${overflow} px too wide)`);
  await screenshot(page, 'quick-add-390');
  assert.deepEqual(besides(problems, 422), []);
});
