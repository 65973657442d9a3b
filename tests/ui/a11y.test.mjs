// Accessibility the page can be checked for: every control has a name, and
// every piece of text meets WCAG AA contrast (4.5:1; 3:1 for large text) on
// what is behind it — in the light and the dark scheme.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rest, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });

// Runs in the page: each visible text's contrast against its background.
function contrastProblems() {
  const rgba = (css) => {
    const [r, g, b, a = 1] = css.match(/[\d.]+/g).map(Number);
    return { r, g, b, a };
  };
  const luminance = ({ r, g, b }) => {
    const lin = (c) => {
      const v = c / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    };
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
  };
  // The first opaque background from the element up (the page's at last).
  const behind = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const bg = rgba(getComputedStyle(node).backgroundColor);
      if (bg.a > 0.5) return bg;
    }
    return rgba(getComputedStyle(document.documentElement).backgroundColor);
  };
  const problems = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let text = walker.nextNode(); text; text = walker.nextNode()) {
    const el = text.parentElement;
    if (!text.textContent.trim() || !el.checkVisibility() || el.closest('.qa-highlight')) continue;
    const style = getComputedStyle(el);
    const fg = rgba(style.color);
    if (fg.a === 0) continue;
    const [l1, l2] = [luminance(fg), luminance(behind(el))].sort((a, b) => b - a);
    const ratio = (l1 + 0.05) / (l2 + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`${ratio.toFixed(2)} "${text.textContent.trim().slice(0, 30)}" (${el.className || el.tagName})`);
  }
  return problems;
}

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
    assert.deepEqual(await page.evaluate(contrastProblems), [], `${scheme}: contrast below AA`);
    await page.click('#settings-toggle');
    await page.waitForSelector('#settings-view:not([hidden])');
    assert.deepEqual(await page.evaluate(unnamedControls), [], `${scheme}: unnamed controls in settings`);
    assert.deepEqual(await page.evaluate(contrastProblems), [], `${scheme}: contrast below AA in settings`);
    await page.click('#settings-toggle');
  }
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(problems, []);
});
