// The views: Inbox, Today (overdue included), Upcoming grouped by day,
// Completed and one per tag, each in the URL (back and forward work), with
// counts in the sidebar; delete with undo; the live connection's state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rest, screenshot, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

const DAY = 86_400_000;

const titles = (page) => page.$$eval('#task-list li.task .task-title', (nodes) => nodes.map((n) => n.textContent));
const count = (page, kind) => page.textContent(`#view-list a[href="#/${kind}"] .count`);

async function showsView(page, hash, expected) {
  await page.waitForFunction(
    ([h, want]) => location.hash === h
      && JSON.stringify([...document.querySelectorAll('#task-list li.task .task-title')].map((n) => n.textContent).sort())
        === JSON.stringify([...want].sort()),
    [hash, expected],
  );
}

test('each view lists its tasks, is kept in the URL and counted in the sidebar', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'views-ui@example.com');
  await page.waitForSelector('#live-state[data-state="live"]');
  assert.equal(await page.textContent('#live-state'), 'Live');
  // The list's first drawing may come after the connection is up.
  await page.waitForSelector('#task-empty:not([hidden])');
  assert.match(await page.textContent('#task-empty'), /Nothing to do/);

  const now = Date.now();
  const make = (body) => rest(page, ctx.app.base, 'POST', '/api/v1/tasks', body);
  await make({ title: 'Overdue report', due_at: new Date(now - 2 * DAY).toISOString(), priority: 'high' });
  // Due today at 23:59 in the user's zone, whatever the time of the run.
  await rest(page, ctx.app.base, 'POST', '/api/v1/tasks/quick-add', { text: '"Later today" today' });
  await make({ title: 'In three days', due_at: new Date(now + 3 * DAY).toISOString(), tags: ['home'] });
  await make({ title: 'Someday', tags: ['home'] });
  const done = await make({ title: 'Already done' });
  await rest(page, ctx.app.base, 'POST', `/api/v1/tasks/${done.body.id}/complete`);

  // Made by REST: the open page shows them without a reload.
  await showsView(page, '', ['Overdue report', 'Later today', 'In three days', 'Someday']);
  assert.equal(await count(page, 'inbox'), '4');
  assert.equal(await count(page, 'today'), '2');
  assert.equal(await count(page, 'upcoming'), '2');
  assert.equal(await count(page, 'completed'), '1');
  await screenshot(page, 'view-inbox');

  await page.click('#view-list a[href="#/today"]');
  await showsView(page, '#/today', ['Overdue report', 'Later today']);
  assert.equal(await page.textContent('#view-title'), 'Today');
  assert.equal(await page.getAttribute('#task-list li.task:first-child', 'class'), 'task overdue');
  assert.equal(await page.textContent('#task-list li.task:first-child .task-due'), 'overdue 2 days');

  await page.click('#view-list a[href="#/upcoming"]');
  await showsView(page, '#/upcoming', ['Later today', 'In three days']);
  const headings = await page.$$eval('#task-list .day-heading', (nodes) => nodes.map((n) => n.textContent));
  assert.equal(headings.length, 2, `one heading per day: ${headings}`);
  await screenshot(page, 'view-upcoming');

  await page.click('#view-list a[href="#/completed"]');
  await showsView(page, '#/completed', ['Already done']);
  assert.equal(await page.isVisible('#clear-completed'), true);

  await page.click('#view-list a[href="#/inbox"]');
  await showsView(page, '#/inbox', ['Overdue report', 'Later today', 'In three days', 'Someday']);
  await page.click('#task-list li.task:has-text("Someday") a.tag-chip');
  await showsView(page, '#/tag/home', ['In three days', 'Someday']);
  assert.equal(await page.textContent('#view-title'), '#home');

  // Back and forward walk the views; a reload keeps the one shown.
  await page.goBack();
  await showsView(page, '#/inbox', ['Overdue report', 'Later today', 'In three days', 'Someday']);
  await page.goForward();
  await showsView(page, '#/tag/home', ['In three days', 'Someday']);
  await page.reload();
  await showsView(page, '#/tag/home', ['In three days', 'Someday']);
  assert.deepEqual(problems, []);
});

test('a deleted task can be brought back for a few seconds, then it is gone', async () => {
  const { page, problems } = ctx.session;
  await page.click('#view-list a[href="#/inbox"]');
  await showsView(page, '#/inbox', ['Overdue report', 'Later today', 'In three days', 'Someday']);
  const id = await page.getAttribute('#task-list li.task:has-text("Someday")', 'data-id');

  await page.click('#task-list li.task:has-text("Someday") .task-delete');
  await showsView(page, '#/inbox', ['Overdue report', 'Later today', 'In three days']);
  assert.match(await page.textContent('#message'), /Deleted "Someday"/);
  await page.click('#message .undo');
  await showsView(page, '#/inbox', ['Overdue report', 'Later today', 'In three days', 'Someday']);
  await new Promise((r) => setTimeout(r, 5500));
  assert.equal((await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${id}`)).status, 200, 'undone: never deleted');

  await page.click('#task-list li.task:has-text("Someday") .task-delete');
  await showsView(page, '#/inbox', ['Overdue report', 'Later today', 'In three days']);
  assert.equal((await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${id}`)).status, 200, 'not yet: it can still be undone');
  const deadline = Date.now() + 8000;
  while ((await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${id}`)).status !== 404) {
    assert.ok(Date.now() < deadline, 'deleted after the undo period');
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal((await titles(page)).includes('Someday'), false);
  assert.deepEqual(problems, []);
});

test('a task reopened from Completed leaves it and is open again', async () => {
  const { page, problems } = ctx.session;
  await page.click('#view-list a[href="#/completed"]');
  await showsView(page, '#/completed', ['Already done']);
  await page.click('#task-list li.task:has-text("Already done") .task-toggle');
  await showsView(page, '#/completed', []);
  assert.match(await page.textContent('#task-empty'), /No completed tasks yet/);
  assert.equal(await page.isVisible('#clear-completed'), false);
  await page.waitForFunction(() => document.querySelector('#view-list a[href="#/completed"] .count')?.textContent === '0');
  assert.equal(await count(page, 'inbox'), '4');

  const [task] = (await rest(page, ctx.app.base, 'GET', '/api/v1/tasks?search=Already')).body.items;
  assert.equal(task.completed, false);
  await page.click('#view-list a[href="#/inbox"]');
  await showsView(page, '#/inbox', ['Overdue report', 'Later today', 'In three days', 'Already done']);
  assert.deepEqual(problems, []);
});
