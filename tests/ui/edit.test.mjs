// Editing every field of a task in the dialog, in the user's time zone;
// field errors by their field; a change made elsewhere meanwhile shown as a
// conflict instead of being overwritten.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { besides, rest, screenshot, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

async function openEditor(page, title) {
  await page.click(`#task-list .task-title:text-is("${title}")`);
  await page.waitForSelector('#edit-dialog[open]');
}

test('every field is edited in the dialog and saved in the user\'s zone', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'edit-ui@example.com');
  const { body: task } = await rest(page, ctx.app.base, 'POST', '/api/v1/tasks', { title: 'Plan trip', priority: 'low', tags: ['travel'] });
  await page.locator('#task-list .task-title', { hasText: 'Plan trip' }).waitFor();

  await openEditor(page, 'Plan trip');
  assert.equal(await page.inputValue('#edit-title'), 'Plan trip');
  assert.equal(await page.inputValue('#edit-priority'), 'low');
  await page.fill('#edit-title', 'Plan the trip');
  await page.fill('#edit-description', 'Trains, not planes');
  await page.selectOption('#edit-priority', 'high');
  await page.fill('#edit-due-date', '2030-06-03');
  await page.fill('#edit-due-time', '09:30');
  await page.selectOption('#edit-recurrence', 'custom');
  await page.fill('#edit-rule', 'FREQ=WEEKLY;BYDAY=MO,WE');
  await page.selectOption('#edit-mode', 'completion');
  await page.fill('#edit-end-date', '2030-12-31');
  await page.selectOption('#edit-reminder', '60');
  await page.fill('#edit-tags', 'travel, family');
  await screenshot(page, 'edit-dialog');
  await page.click('#edit-form button[type=submit]');
  await page.waitForSelector('#edit-dialog', { state: 'hidden' });
  await page.locator('#task-list .task-title', { hasText: 'Plan the trip' }).waitFor();

  const { body: saved } = await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${task.id}`);
  assert.equal(saved.title, 'Plan the trip');
  assert.equal(saved.description, 'Trains, not planes');
  assert.equal(saved.priority, 'high');
  assert.equal(saved.due_at, '2030-06-03T07:30:00Z', '09:30 in Berlin, summer time');
  assert.equal(saved.recurrence_pattern, 'FREQ=WEEKLY;BYDAY=MO,WE');
  assert.equal(saved.recurrence_mode, 'completion');
  assert.equal(saved.recurrence_end_date, '2030-12-31T22:59:59.999999Z', 'the end of that day in Berlin');
  assert.equal(saved.reminder_offset_minutes, 60);
  assert.deepEqual(saved.tags, ['family', 'travel']);
  assert.equal(saved.version, 2, 'one change');

  // The dialog shows what was saved, and saving unchanged sends nothing.
  await openEditor(page, 'Plan the trip');
  assert.equal(await page.inputValue('#edit-due-date'), '2030-06-03');
  assert.equal(await page.inputValue('#edit-due-time'), '09:30');
  assert.equal(await page.inputValue('#edit-recurrence'), 'custom');
  await page.click('#edit-form button[type=submit]');
  await page.waitForSelector('#edit-dialog', { state: 'hidden' });
  assert.equal((await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${task.id}`)).body.version, 2);
  assert.deepEqual(problems, []);
});

test('a refused field is marked, and a change made elsewhere is a conflict', async () => {
  const { page, problems } = ctx.session;
  const { body: task } = await rest(page, ctx.app.base, 'POST', '/api/v1/tasks', { title: 'Water plants' });
  await page.locator('#task-list .task-title', { hasText: 'Water plants' }).waitFor();

  await openEditor(page, 'Water plants');
  await page.selectOption('#edit-recurrence', 'custom');
  await page.fill('#edit-rule', 'FREQ=SOMETIMES');
  await page.click('#edit-form button[type=submit]');
  await page.waitForSelector('#edit-rule-error');
  assert.equal(await page.getAttribute('#edit-rule', 'aria-invalid'), 'true');
  assert.equal(await page.isVisible('#edit-dialog'), true, 'the dialog stays open');
  await page.click('#edit-cancel');

  await openEditor(page, 'Water plants');
  await rest(page, ctx.app.base, 'PATCH', `/api/v1/tasks/${task.id}`, { title: 'Water the plants' });
  await page.fill('#edit-title', 'Water plants daily');
  await page.click('#edit-form button[type=submit]');
  await page.waitForSelector('#edit-problem:not([hidden])');
  assert.match(await page.textContent('#edit-problem'), /changed elsewhere/);
  assert.equal((await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${task.id}`)).body.title, 'Water the plants', 'not overwritten');
  await page.click('#edit-problem button');
  await page.waitForFunction(() => document.getElementById('edit-title').value === 'Water the plants');
  await page.fill('#edit-title', 'Water the plants daily');
  await page.click('#edit-form button[type=submit]');
  await page.waitForSelector('#edit-dialog', { state: 'hidden' });
  assert.equal((await rest(page, ctx.app.base, 'GET', `/api/v1/tasks/${task.id}`)).body.title, 'Water the plants daily');
  assert.deepEqual(besides(problems, 412, 422), []);
});
