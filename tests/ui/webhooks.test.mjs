// Webhooks from the settings view, against a receiver run by the test on
// 127.0.0.1 (allowed by WEBHOOK_ALLOWED_HOSTS): added with the signing
// secret shown once, fed the user's changes as signed CloudEvents, tested,
// its deliveries listed; a failing receiver is retried and shown so; one
// that answers 410 is disabled by the service, which the page says in a
// toast and in the list, and it is enabled again, paused, rotated and
// deleted. A refused URL is marked under its field. An endpoint is edited
// in the form that adds them.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { besides, contrastProblems, rest, screenshot, settled, signUp, withAppAndBrowser } from './support.mjs';

const ZONE = 'Europe/Berlin';
const ctx = withAppAndBrowser(
  { timezoneId: ZONE, permissions: ['clipboard-read', 'clipboard-write'] },
  { env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } },
);

// A receiver that records each request and answers `status` (204 unless
// switched).
function startReceiver() {
  const requests = [];
  const receiver = {
    requests,
    status: 204,
    url: null,
    /** The first request (from `from` on) that `match` accepts, once it came. */
    async waitFor(match, { from = 0, timeout = 15_000 } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const found = requests.slice(from).find(match);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`no such request in ${timeout} ms; got ${requests.map((r) => r.type).join(', ')}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
  };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString();
      let body = null;
      try {
        body = JSON.parse(raw);
      } catch {
        // recorded as it came
      }
      const status = receiver.status;
      requests.push({ method: req.method, path: req.url, headers: req.headers, raw, body, type: body?.type, status });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 204 ? undefined : `answered ${status}`);
    });
  });
  receiver.close = () => new Promise((resolve) => server.close(resolve));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    receiver.url = `http://127.0.0.1:${server.address().port}/hooks/tasks`;
    resolve(receiver);
  }));
}

let receiver;
before(async () => { receiver = await startReceiver(); });
after(async () => { await receiver?.close(); });

// Standard Webhooks: each `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`
// of the header, with the secret's key.
function signedWith(secret, request) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': header } = request.headers;
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${request.raw}`).digest('base64');
  return header.split(' ').includes(`v1,${expected}`);
}

// How the page should write an instant: "Mon 23 Nov, 14:05:07" in the zone.
function inZone(iso) {
  const at = new Date(iso);
  const part = (options) => new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, ...options }).format(at);
  return `${part({ weekday: 'short', day: 'numeric', month: 'short' })}, ${
    part({ hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })}`;
}

const hook = (page) => page.locator('#webhook-list li.webhook');

// Resolves once `check()` is truthy (polled), or fails saying `what`.
async function until(check, what, timeout = 10_000) {
  const deadline = Date.now() + timeout;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, `${what} within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const webhooksOf = async (page) => (await rest(page, ctx.app.base, 'GET', '/api/v1/webhooks')).body;

async function openSettings(page) {
  if (await page.isHidden('#settings-view')) await page.click('#settings-toggle');
  await page.waitForSelector('#settings-view:not([hidden])');
  await settled(page);
}

async function openTasks(page) {
  if (await page.isHidden('#app-view')) await page.click('#settings-toggle');
  await page.waitForSelector('#app-view:not([hidden])');
}

async function quickAdd(page, title) {
  await page.fill('#quick-add-text', title);
  await page.press('#quick-add-text', 'Enter');
  await page.locator('#task-list .task-title', { hasText: title }).waitFor();
}

let secret;

test('a webhook is added with its secret shown once, gets signed events, a test and its deliveries', async () => {
  const { page, problems } = ctx.session;
  await signUp(page, ctx.app.base, 'webhooks-ui@example.com');
  await page.waitForSelector('#live-state[data-state="live"]');
  await openSettings(page);
  assert.equal(await page.isVisible('#webhook-empty'), true, 'no webhooks yet');
  assert.equal(await page.isChecked('#webhook-all'), true, 'every event unless chosen');

  // Choosing a family unticks "All"; unticking the last ticks it again.
  await page.check('#webhook-events input[value="task.*"]');
  assert.equal(await page.isChecked('#webhook-all'), false);
  await page.uncheck('#webhook-events input[value="task.*"]');
  assert.equal(await page.isChecked('#webhook-all'), true);

  await page.fill('#webhook-url', receiver.url);
  await page.fill('#webhook-description', 'Team chat bridge');
  await page.click('#webhook-form button[type=submit]');
  await page.waitForSelector('#webhook-secret:not([hidden])');
  secret = await page.inputValue('#webhook-secret-value');
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.match(await page.textContent('#webhook-secret'), /will not be shown again/);
  assert.equal(await page.isVisible('#webhook-copy'), true);
  await page.click('#webhook-copy');
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret, 'the copy button copies it');

  await hook(page).first().waitFor();
  assert.equal(await hook(page).count(), 1);
  assert.equal(await hook(page).getAttribute('data-state'), 'active');
  assert.equal(await hook(page).locator('.webhook-url').textContent(), receiver.url);
  assert.equal(await hook(page).locator('.webhook-state').textContent(), 'Active');
  assert.match(await hook(page).locator('.webhook-meta').textContent(), /Team chat bridge · Events: all/);
  assert.equal((await page.textContent('#webhook-list')).includes(secret), false, 'the list never shows a secret');
  await page.waitForSelector('#webhook-url:not([aria-invalid])');
  assert.equal(await page.inputValue('#webhook-url'), '', 'the form is emptied');
  await screenshot(page, 'settings-webhook-created');

  // Shown once: "Done" hides it, and neither leaving nor reloading brings it back.
  await page.click('#webhook-secret-done');
  assert.equal(await page.isHidden('#webhook-secret'), true);
  assert.equal(await page.inputValue('#webhook-secret-value'), '');
  await page.reload();
  await page.waitForSelector('#app-view:not([hidden])');
  await openSettings(page);
  await hook(page).first().waitFor();
  assert.equal(await page.isHidden('#webhook-secret'), true);
  assert.equal(await page.inputValue('#webhook-secret-value'), '');

  // A task made with quick add reaches the receiver, signed, as a CloudEvent.
  await openTasks(page);
  await page.waitForSelector('#live-state[data-state="live"]');
  const startedAt = Math.floor(Date.now() / 1000);
  await quickAdd(page, 'Buy milk');
  const created = await receiver.waitFor((r) => r.type === 'task.created');
  assert.equal(created.method, 'POST');
  assert.equal(created.path, '/hooks/tasks');
  assert.equal(created.headers['content-type'], 'application/cloudevents+json');
  for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    assert.ok(created.headers[name], `${name} header`);
  }
  assert.equal(created.headers['webhook-id'], created.body.id, 'webhook-id is the event id');
  assert.ok(Math.abs(Number(created.headers['webhook-timestamp']) - startedAt) < 60, 'a current timestamp');
  assert.match(created.headers['webhook-signature'], /^v1,[A-Za-z0-9+/]+=*$/);
  assert.ok(signedWith(secret, created), 'signed with the secret shown');
  assert.equal(created.body.specversion, '1.0');
  assert.equal(created.body.type, 'task.created');
  assert.equal(created.body.data.task_data.title, 'Buy milk');
  // The service records the delivery right after the answer.
  await until(async () => (await webhooksOf(page))[0].delivered_seq >= Number(created.body.sequence),
    'the delivery is recorded');

  // "Send test" delivers a webhook.test and says how it went, in place.
  await openSettings(page);
  const before = receiver.requests.length;
  await hook(page).locator('.webhook-test').click();
  await page.waitForFunction(() => /Delivered/.test(document.querySelector('#webhook-list .webhook-result')?.textContent || ''));
  assert.match(await hook(page).locator('.webhook-result').textContent(), /^Test: Delivered: 204 in \d+(\.\d)? ms$/);
  const tested = await receiver.waitFor((r) => r.type === 'webhook.test', { from: before });
  assert.ok(signedWith(secret, tested));
  assert.equal(await page.evaluate(() => document.activeElement.className), 'webhook-test', 'the focus stays on the button');

  // Recent deliveries: newest first, times in the user's zone.
  await hook(page).locator('summary', { hasText: 'Recent deliveries' }).click();
  const rows = hook(page).locator('table.deliveries tbody tr');
  await rows.nth(1).waitFor();
  const cells = (i) => rows.nth(i).locator('td').allTextContents();
  const [testRow, createdRow] = [await cells(0), await cells(1)];
  assert.equal(testRow[1], 'webhook.test');
  assert.equal(testRow[2], '—', 'a test is outside the sequence');
  assert.equal(testRow[3], '204');
  assert.equal(createdRow[1], 'task.created');
  assert.equal(createdRow[2], created.body.sequence);
  assert.equal(createdRow[3], '204');
  assert.match(createdRow[4], /^\d+(\.\d)? ms$/);
  assert.equal(createdRow[5], '—', 'no error');
  assert.equal(createdRow[6], '—', 'no retry');
  const at = await rows.nth(1).locator('time').getAttribute('datetime');
  assert.equal(createdRow[0], inZone(at), `shown in ${ZONE}`);
  await screenshot(page, 'settings-webhook-deliveries');
  assert.deepEqual(problems, []);
});

test('a failing receiver is shown retrying, then delivered to when it is back', async () => {
  const { page, problems } = ctx.session;
  receiver.status = 503;
  const from = receiver.requests.length;
  await openTasks(page);
  await quickAdd(page, 'Water the plants');
  await receiver.waitFor((r) => r.type === 'task.created' && r.status === 503, { from });
  // The service records the failure right after the answer.
  await until(async () => (await webhooksOf(page))[0].failures > 0, 'the failure is recorded');

  await openSettings(page);
  await page.waitForSelector('#webhook-list li.webhook[data-state="retrying"]');
  assert.equal(await hook(page).locator('.webhook-state').textContent(), 'Retrying');
  assert.match(await hook(page).locator('.webhook-retry-note').textContent(),
    /^1 failed attempt at the next event; next attempt \w{3} \d{1,2} \w{3}, \d\d:\d\d:\d\d\. Later events wait/);
  // The deliveries are still open from before: the failure is listed with its retry.
  const failed = hook(page).locator('table.deliveries tbody tr.failed').first();
  await failed.waitFor();
  const cells = await failed.locator('td').allTextContents();
  assert.equal(cells[1], 'task.created');
  assert.equal(cells[3], '503');
  assert.equal(cells[5], 'HTTP 503: answered 503');
  assert.match(cells[6], /^\w{3} \d{1,2} \w{3}, \d\d:\d\d:\d\d$/, 'when it is retried');
  assert.equal(await failed.locator('.delivery-redeliver').count(), 1);
  await screenshot(page, 'settings-webhook-retrying');

  // Back up: the retry (about 5 s later) goes through and the page, which
  // reads the list again once the retry is due, shows it active.
  receiver.status = 204;
  await page.waitForSelector('#webhook-list li.webhook[data-state="active"]', { timeout: 20_000 });
  const retried = await receiver.waitFor((r) => r.type === 'task.created' && r.status === 204, { from });
  assert.equal(retried.body.data.task_data.title, 'Water the plants');

  // A failed delivery can also be made again at once.
  const count = receiver.requests.length;
  await hook(page).locator('table.deliveries tbody tr.failed .delivery-redeliver').first().click();
  await page.waitForFunction(() => /^Redelivered/.test(document.querySelector('#webhook-list .webhook-result')?.textContent || ''));
  assert.match(await hook(page).locator('.webhook-result').textContent(),
    /^Redelivered task\.created #\d+: Delivered: 204 in [\d.]+ ms$/);
  const again = await receiver.waitFor((r) => r.type === 'task.created', { from: count });
  assert.equal(again.headers['webhook-id'], retried.headers['webhook-id'], 'the same event');
  // The list says what made each attempt: the redelivery, the retry.
  const newest = hook(page).locator('table.deliveries tbody tr').first();
  await newest.locator('td', { hasText: '(redelivered)' }).waitFor();
  assert.equal((await newest.locator('td').allTextContents())[1], 'task.created (redelivered)');
  assert.equal(await hook(page).locator('table.deliveries tbody td', { hasText: 'task.created (try 2)' }).count(), 1);
  assert.deepEqual(problems, []);
});

test('a receiver that answers 410 is disabled: a toast and the list say why; it is enabled, paused, rotated, deleted', async () => {
  const { page, problems } = ctx.session;
  receiver.status = 410;
  const from = receiver.requests.length;
  // Settings stay open: a task made elsewhere (another device) is refused.
  await openSettings(page);
  const made = await rest(page, ctx.app.base, 'POST', '/api/v1/tasks', { title: 'Call the plumber' });
  assert.equal(made.status, 201);
  const toast = page.locator('#toasts .toast', { hasText: 'disabled' });
  await toast.waitFor({ timeout: 15_000 });
  assert.equal(await toast.locator('span').textContent(),
    `Webhook to ${receiver.url} disabled: the receiver answered 410 Gone`);
  // The open list turned without a reload.
  await page.waitForSelector('#webhook-list li.webhook[data-state="disabled"]');
  assert.equal(await hook(page).locator('.webhook-state').textContent(), 'Disabled by the service');
  assert.equal(await hook(page).locator('.webhook-reason').textContent(), 'the receiver answered 410 Gone');
  assert.equal(await hook(page).locator('.webhook-toggle').textContent(), 'Enable again');
  assert.equal((await receiver.waitFor((r) => r.status === 410, { from })).type, 'task.created');
  await settled(page);
  await screenshot(page, 'settings-webhook-disabled');

  // The task list's live refresh went on: the task is there, the toast too.
  await openTasks(page);
  await page.locator('#task-list .task-title', { hasText: 'Call the plumber' }).waitFor();
  assert.equal(await toast.isVisible(), true);
  await screenshot(page, 'webhook-disabled-toast');
  await toast.locator('.toast-close').click();

  // The same in the dark scheme, every text at AA contrast.
  await openSettings(page);
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await page.evaluate(contrastProblems, '#webhooks'), [], 'dark: contrast below AA');
  await screenshot(page, 'settings-webhooks-dark');
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(await page.evaluate(contrastProblems, '#webhooks'), [], 'light: contrast below AA');

  // A phone: nothing wider than the screen; deliveries become labelled lines.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scroll at 390 px (${overflow} px too wide)`);
  await screenshot(page, 'settings-webhooks-390');
  await page.setViewportSize({ width: 1200, height: 800 });

  // Enabled again, delivery resumes with the refused event, then the notice.
  receiver.status = 204;
  const resumed = receiver.requests.length;
  await hook(page).locator('.webhook-toggle').click();
  await page.waitForSelector('#webhook-list li.webhook[data-state="active"]');
  const plumber = await receiver.waitFor((r) => r.status === 204, { from: resumed });
  assert.equal(plumber.type, 'task.created');
  assert.equal(plumber.body.data.task_data.title, 'Call the plumber');
  const notice = await receiver.waitFor((r) => r.type === 'webhook.disabled', { from: resumed });
  assert.ok(Number(notice.body.sequence) > Number(plumber.body.sequence), 'in order');

  // Paused by the user: said so, and resumed.
  await hook(page).locator('.webhook-toggle', { hasText: 'Pause' }).click();
  await page.waitForSelector('#webhook-list li.webhook[data-state="paused"]');
  assert.equal(await hook(page).locator('.webhook-state').textContent(), 'Paused');
  assert.match(await hook(page).locator('.webhook-paused').textContent(), /Paused by you/);
  await hook(page).locator('.webhook-toggle', { hasText: 'Resume' }).click();
  await page.waitForSelector('#webhook-list li.webhook[data-state="active"]');

  // A new secret, shown once; the old one signs too during the grace period.
  page.once('dialog', (dialog) => {
    assert.match(dialog.message(), /new signing secret/);
    dialog.accept();
  });
  await hook(page).locator('.webhook-rotate').click();
  await page.waitForSelector('#webhook-secret:not([hidden])');
  const rotated = await page.inputValue('#webhook-secret-value');
  assert.match(rotated, /^whsec_/);
  assert.notEqual(rotated, secret);
  assert.match(await page.textContent('#webhook-secret-note'), /previous secret also signs until/);
  await hook(page).locator('.webhook-grace').waitFor();
  const afterRotation = receiver.requests.length;
  await hook(page).locator('.webhook-test').click();
  const signedTwice = await receiver.waitFor((r) => r.type === 'webhook.test', { from: afterRotation });
  assert.ok(signedWith(rotated, signedTwice) && signedWith(secret, signedTwice), 'both secrets sign');

  // Deleted after a confirmation.
  page.once('dialog', (dialog) => {
    assert.match(dialog.message(), /Delete the webhook to/);
    dialog.accept();
  });
  await hook(page).locator('.webhook-delete').click();
  await page.waitForSelector('#webhook-empty:not([hidden])');
  assert.equal(await hook(page).count(), 0);
  assert.equal(await page.isHidden('#webhook-secret'), true, 'its secret goes with it');
  assert.match(await page.textContent('#message'), /Deleted the webhook to/);
  assert.deepEqual(await webhooksOf(page), []);
  assert.deepEqual(problems, []);
});

test('a refused URL is marked under its field and nothing is added', async () => {
  const { page, problems } = ctx.session;
  await openSettings(page);
  // Only 127.0.0.1 is allowed: a private address stays refused.
  await page.fill('#webhook-url', 'http://10.0.0.1/x');
  await page.click('#webhook-form button[type=submit]');
  await page.waitForSelector('#webhook-url[aria-invalid="true"]');
  assert.match(await page.textContent('#webhook-url-error'), /10\.0\.0\.1 is a loopback, private, link-local or otherwise internal address/);
  assert.equal(await page.getAttribute('#webhook-url', 'aria-errormessage'), 'webhook-url-error');
  assert.equal(await page.isHidden('#message'), true);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'webhook-url', 'the field has the focus');
  assert.equal(await page.isVisible('#webhook-empty'), true);
  assert.equal(await page.isHidden('#webhook-secret'), true);
  await screenshot(page, 'settings-webhook-refused');
  assert.deepEqual(besides(problems, 422), []);
});

test('an endpoint is edited in the form: URL, description and events change, its secret and types the form cannot show stay', async () => {
  const { page, problems } = ctx.session;
  // Made through the API with a type no box of the form stands for.
  const made = await rest(page, ctx.app.base, 'POST', '/api/v1/webhooks',
    { url: receiver.url, description: 'Old name', event_types: ['task.*', 'reminder.triggered'] });
  assert.equal(made.status, 201);
  const { id, secret: madeSecret } = made.body;
  await openTasks(page);
  await openSettings(page);
  const mine = page.locator(`#webhook-list li.webhook[data-id="${id}"]`);
  await mine.waitFor();

  // "Edit" fills the form with the endpoint as it is.
  await mine.locator('.webhook-edit').click();
  assert.equal(await page.textContent('#webhook-form-title'), `Edit the webhook to ${receiver.url}`);
  assert.equal(await page.inputValue('#webhook-url'), receiver.url);
  assert.equal(await page.inputValue('#webhook-description'), 'Old name');
  assert.equal(await page.isChecked('#webhook-events input[value="task.*"]'), true);
  assert.equal(await page.isChecked('#webhook-events input[value="reminder.*"]'), false);
  assert.equal(await page.isChecked('#webhook-all'), false);
  assert.match(await page.textContent('#webhook-types-note'), /also takes reminder\.triggered .*kept unless you change the events here/);
  assert.equal(await page.textContent('#webhook-submit'), 'Save changes');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'webhook-url', 'the URL has the focus');
  assert.deepEqual(await page.evaluate(contrastProblems, '#webhook-form'), [], 'contrast below AA');
  await screenshot(page, 'settings-webhook-editing');
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.ok(overflow <= 0, `no horizontal scroll at 390 px (${overflow} px too wide)`);
  await page.locator('#webhook-form').scrollIntoViewIfNeeded();
  await screenshot(page, 'settings-webhook-editing-390');
  await page.setViewportSize({ width: 1200, height: 800 });

  // Saved: the list says so; the types the form did not show are kept.
  const moved = `${receiver.url}/moved`;
  await page.fill('#webhook-url', moved);
  await page.fill('#webhook-description', 'Team chat');
  await page.click('#webhook-submit');
  await page.locator('#message', { hasText: `Saved the webhook to ${moved}.` }).waitFor();
  await mine.locator('.webhook-url', { hasText: moved }).waitFor();
  assert.match(await mine.locator('.webhook-meta').textContent(), /^Team chat · Events: task\.\*, reminder\.triggered$/);
  assert.equal(await page.textContent('#webhook-form-title'), 'Add a webhook', 'the form adds again');
  assert.equal(await page.inputValue('#webhook-url'), '');
  assert.equal(await page.isHidden('#webhook-cancel'), true);
  assert.equal(await mine.locator('.webhook-edit').evaluate((b) => b === document.activeElement), true,
    'the focus is back on the endpoint');
  let [saved] = (await webhooksOf(page)).filter((h) => h.id === id);
  assert.deepEqual([saved.url, saved.description, saved.event_types],
    [moved, 'Team chat', ['task.*', 'reminder.triggered']]);

  // Its secret did not change: the next event goes to the new URL, signed with it.
  const from = receiver.requests.length;
  await openTasks(page);
  await quickAdd(page, 'Edited hook');
  const arrived = await receiver.waitFor((r) => r.path === '/hooks/tasks/moved' && r.type === 'task.created', { from });
  assert.equal(arrived.body.data.task_data.title, 'Edited hook');
  assert.ok(signedWith(madeSecret, arrived), 'signed with the secret it was made with');

  // Choosing events in the form replaces the types; a refused URL changes nothing.
  await openSettings(page);
  await mine.locator('.webhook-edit').click();
  await page.check('#webhook-all');
  await page.fill('#webhook-url', 'http://10.0.0.1/x');
  await page.click('#webhook-submit');
  await page.waitForSelector('#webhook-url[aria-invalid="true"]');
  [saved] = (await webhooksOf(page)).filter((h) => h.id === id);
  assert.deepEqual([saved.url, saved.event_types], [moved, ['task.*', 'reminder.triggered']], 'nothing half-saved');
  await page.fill('#webhook-url', moved);
  await page.click('#webhook-submit');
  await page.locator('#message', { hasText: `Saved the webhook to ${moved}.` }).waitFor();
  await until(async () => (await webhooksOf(page)).find((h) => h.id === id).event_types.length === 0,
    'the events are all');
  await mine.locator('.webhook-meta', { hasText: 'Events: all' }).waitFor();

  // Escape leaves the form without saving.
  await mine.locator('.webhook-edit').click();
  await page.fill('#webhook-description', 'Not kept');
  await page.press('#webhook-description', 'Escape');
  assert.equal(await page.textContent('#webhook-form-title'), 'Add a webhook');
  assert.equal(await page.inputValue('#webhook-description'), '');
  assert.equal(await mine.locator('.webhook-edit').evaluate((b) => b === document.activeElement), true);
  assert.equal((await webhooksOf(page)).find((h) => h.id === id).description, 'Team chat');
  assert.deepEqual(besides(problems, 422), []);
});
