// Accessibility the page can be checked for: every control has a name, and
// every piece of text meets WCAG AA contrast (4.5:1; 3:1 for large text) on
// what is behind it — in the light and the dark scheme.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { contrastProblems, rest, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

function unnamedControls() {
  return [...document.querySelectorAll('button, input, select, textarea, a[href]')]
    .filter((el) => el.checkVisibility())
    .filter((el) => {
      const label = el.getAttribute('aria-label') || el.labels?.[0]?.textContent || el.textContent || el.title;
      return !label || !label.trim();
    })
    .map((el) => el.id || el.className || el.tagName);
}

test('every control is named and every text meets AA contrast, light and dark', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'a11y-ui@example.com');
  const make = (body) => rest(page, ctx.app.base, 'POST', '/api/v1/tasks', body);
  await make({ title: 'Overdue', due_at: new Date(Date.now() - 86_400_000).toISOString(), priority: 'urgent', tags: ['work'] });
  await make({ title: 'High', priority: 'high', recurrence_pattern: 'daily', due_at: new Date(Date.now() + 86_400_000).toISOString(), reminder_offset_minutes: 30 });
  await make({ title: 'Medium', priority: 'medium' });
  await make({ title: 'Low', priority: 'low' });
  await page.locator('#task-list .task-title', { hasText: 'Low' }).waitFor();
  await page.fill('#quick-add-text', 'Call Ann tomorrow 5pm #family p2');
  await page.waitForFunction(() => document.querySelectorAll('#quick-add-highlight mark').length === 4);

  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    assert.deepEqual(await page.evaluate(unnamedControls), [], `${scheme}: unnamed controls`);
    assert.deepEqual(await page.evaluate(contrastProblems, 'body'), [], `${scheme}: contrast below AA`);
    await page.click('#settings-toggle');
    await page.waitForSelector('#settings-view:not([hidden])');
    assert.deepEqual(await page.evaluate(unnamedControls), [], `${scheme}: unnamed controls in settings`);
    assert.deepEqual(await page.evaluate(contrastProblems, 'body'), [], `${scheme}: contrast below AA in settings`);
    await page.click('#settings-toggle');
  }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(problems, []);
});
