// The keyboard-only flow, a second tab of the same user kept in step live,
// the time zone in settings, and the dark scheme.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rest, screenshot, signUp, withAppAndBrowser } from './support.mjs';

const ctx = withAppAndBrowser({ timezoneId: 'Europe/Berlin' });
const EMAIL = 'keys-ui@example.com';
const PASSWORD = 'correct horse battery';

const titles = (page) => page.$$eval('#task-list li.task .task-title', (nodes) => nodes.map((n) => n.textContent));
const selected = (page) => page.$eval('#task-list li.task.selected .task-title', (n) => n.textContent);

async function listed(page, expected) {
  await page.waitForFunction((want) => JSON.stringify([...document.querySelectorAll('#task-list li.task .task-title')]
    .map((n) => n.textContent)) === JSON.stringify(want), expected);
}

test('everything is reachable from the keyboard', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, EMAIL, PASSWORD);
  await page.waitForSelector('#live-state[data-state="live"]');

  await page.keyboard.press('q');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'quick-add-text');
  await page.keyboard.type('Buy milk tomorrow');
  await page.keyboard.press('Enter');
  await listed(page, ['Buy milk']);
  await page.keyboard.type('Call Ann p1');
  await page.keyboard.press('Enter');
  await listed(page, ['Call Ann', 'Buy milk']);
  await page.keyboard.press('Escape');

  await page.keyboard.press('j');
  assert.equal(await selected(page), 'Call Ann');
  await page.keyboard.press('j');
  assert.equal(await selected(page), 'Buy milk');
  await page.keyboard.press('k');
  assert.equal(await selected(page), 'Call Ann');

  await page.keyboard.press('x');
  await listed(page, ['Buy milk']);
  const done = (await rest(page, ctx.app.base, 'GET', '/api/v1/tasks?status=completed')).body.items;
  assert.deepEqual(done.map((t) => t.title), ['Call Ann']);

  await page.keyboard.press('j');
  assert.equal(await selected(page), 'Buy milk');
  await page.keyboard.press('e');
  await page.waitForSelector('#edit-dialog[open]');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'edit-title');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#edit-dialog', { state: 'hidden' });
  await page.keyboard.press('e');
  await page.waitForSelector('#edit-dialog[open]');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('Buy oat milk');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#edit-dialog', { state: 'hidden' });
  await listed(page, ['Buy oat milk']);

  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'search');
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  await page.keyboard.press('Delete');
  await listed(page, []);
  assert.match(await page.textContent('#message'), /Deleted "Buy oat milk"/);
  await page.keyboard.press('Tab');
  assert.deepEqual(problems, []);
});

test('a second tab of the same user sees each change within a second', async () => {
  const { page, browser, problems } = ctx.session;
  const other = await browser.newContext({ viewport: { width: 1200, height: 800 }, timezoneId: 'Europe/Berlin' });
  const second = await other.newPage();
  await second.goto(`${ctx.app.base}/`);
  await second.fill('#email', EMAIL);
  await second.fill('#password', PASSWORD);
  await second.click('#login-form button[type=submit]');
  await second.waitForSelector('#live-state[data-state="live"]');

  await page.fill('#quick-add-text', 'Shared task tomorrow');
  await page.press('#quick-add-text', 'Enter');
  await listed(page, ['Shared task']);
  await second.locator('#task-list .task-title', { hasText: 'Shared task' }).waitFor({ timeout: 1000 });

  await second.click('#task-list li.task:has-text("Shared task") .task-toggle');
  await listed(page, []);
  await page.waitForFunction(() => document.querySelector('#view-list a[href="#/completed"] .count')?.textContent === '2',
    undefined, { timeout: 1000 });
  await other.close();
  assert.deepEqual(problems, []);
});

test('the time zone is set in settings, and the dark scheme is dark', async () => {
  const { page, problems } = ctx.session;
  await page.click('#settings-toggle');
  await page.waitForSelector('#settings-view:not([hidden])');
  assert.equal(await page.inputValue('#profile-timezone'), 'Europe/Berlin', 'the zone signed up with');
  await page.selectOption('#profile-timezone', 'Asia/Tokyo');
  await page.click('#profile-form button[type=submit]');
  await page.waitForFunction(() => /Asia\/Tokyo/.test(document.getElementById('message').textContent));
  assert.equal((await rest(page, ctx.app.base, 'GET', '/api/auth/me')).body.timezone, 'Asia/Tokyo');
  await page.click('#settings-toggle');

  // The page's own background, and a card's text on its card.
  const shade = async () => page.evaluate(() => {
    const sum = (css) => css.match(/\d+/g).slice(0, 3).map(Number).reduce((a, b) => a + b, 0);
    const card = getComputedStyle(document.querySelector('.card'));
    return { page: sum(getComputedStyle(document.documentElement).backgroundColor),
             card: sum(card.backgroundColor), text: sum(card.color) };
  });
  const light = await shade();
  assert.ok(light.page > 600 && light.text < 200, `light: ${JSON.stringify(light)}`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.click('#view-list a[href="#/completed"]');
  await listed(page, ['Shared task', 'Call Ann']);
  const dark = await shade();
  assert.ok(dark.page < 120 && dark.card < 150 && dark.text > 600, `dark: ${JSON.stringify(dark)}`);
  await screenshot(page, 'dark-completed');
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(problems, []);
});
