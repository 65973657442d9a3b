// What every browser test needs: the taskstream binary on a free loopback
// port with a fresh SQLite file, and Debian's Chromium driven by Playwright.
//
// TASKSTREAM_BIN names the binary (default: target/debug/taskstream);
// CHROMIUM the browser (default: /usr/bin/chromium). Screenshots land in
// tests/ui/screenshots/ for a person to look at.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before } from 'node:test';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..', '..');
export const SCREENSHOTS = join(HERE, 'screenshots');

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

async function waitReady(base, child) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`taskstream exited with ${child.exitCode}`);
    try {
      if ((await fetch(`${base}/readyz`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('taskstream did not become ready');
}

/**
 * Starts taskstream; `halt()` stops the process (SIGTERM) and `resume()`
 * starts it again on the same port and database; `stop()` ends it and
 * removes its files. `env` adds settings (`WEBHOOK_ALLOWED_HOSTS`, …).
 */
export async function startApp({ env = {} } = {}) {
  const workdir = mkdtempSync(join(tmpdir(), 'taskstream-ui-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const binary = process.env.TASKSTREAM_BIN || join(ROOT, 'target', 'debug', 'taskstream');
  const log = [];
  let child = null;
  const launch = async () => {
    child = spawn(binary, [], {
      cwd: workdir,
      env: {
        PATH: process.env.PATH,
        PORT: String(port),
        DATABASE_URL: `sqlite://${join(workdir, 'taskstream.db')}`,
        JWT_SECRET: 'ui-tests-secret-0123456789abcdef',
        STATIC_DIR: join(ROOT, 'static'),
        LOG_LEVEL: 'warning',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk) => log.push(chunk));
    child.stderr.on('data', (chunk) => log.push(chunk));
    try {
      await waitReady(base, child);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${err.message}\n${Buffer.concat(log).toString()}`);
    }
  };
  const halt = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  };
  await launch();
  return {
    base,
    log: () => Buffer.concat(log).toString(),
    halt,
    resume: launch,
    async stop() {
      await halt();
      rmSync(workdir, { recursive: true, force: true });
    },
  };
}

/**
 * Launches Chromium and opens a page that records every script error and
 * every error on the console (Content-Security-Policy refusals, failed
 * requests): a test expects none but those it provokes (see `besides`).
 */
export async function openBrowser(contextOptions = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const context = await browser.newContext({ viewport: { width: 1200, height: 800 }, ...contextOptions });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`script error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(message.text());
  });
  watchRequests(page);
  return { browser, context, page, problems };
}

// Per page: how many of its HTTP requests are in flight, and when the last
// one started or ended (for `settled`).
const traffic = new WeakMap();

function watchRequests(page) {
  const seen = { inFlight: 0, lastChange: Date.now() };
  traffic.set(page, seen);
  const started = () => { seen.inFlight += 1; seen.lastChange = Date.now(); };
  const ended = () => { seen.inFlight -= 1; seen.lastChange = Date.now(); };
  page.on('request', started);
  page.on('requestfinished', ended);
  page.on('requestfailed', ended);
}

/**
 * Resolves once the page has had no HTTP request in flight for `quietMs`
 * (longer than the page's 100 ms debounce of live refreshes), so that what
 * the page does next is caused by the test, not by an earlier change.
 */
export async function settled(page, quietMs = 300, timeoutMs = 10000) {
  const seen = traffic.get(page);
  const deadline = Date.now() + timeoutMs;
  while (seen.inFlight > 0 || Date.now() - seen.lastChange < quietMs) {
    if (Date.now() > deadline) throw new Error(`the page's requests did not settle in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Signs a new account up through the form; resolves once the app shows. */
export async function signUp(page, base, email, password = 'correct horse battery') {
  await page.goto(`${base}/`);
  await page.fill('#signup-email', email);
  await page.fill('#signup-password', password);
  await page.click('#signup-form button[type=submit]');
  await page.waitForSelector('#app-view:not([hidden])');
}

/**
 * For a test file: the app and a browser started before its tests and
 * stopped after them. The returned object's `app` and `session` are set
 * once the tests run. `appOptions` go to `startApp` (`{env}`).
 */
export function withAppAndBrowser(contextOptions = {}, appOptions = {}) {
  const handle = { app: null, session: null };
  before(async () => {
    handle.app = await startApp(appOptions);
    handle.session = await openBrowser(contextOptions);
  });
  after(async () => {
    await handle.session?.browser.close();
    await handle.app?.stop();
  });
  return handle;
}

/** A REST call as the page's signed-in user: `{status, body}`. */
export async function rest(page, base, method, path, body) {
  const token = await page.evaluate(() => localStorage.getItem('taskstream.token'));
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/**
 * The problems recorded, besides the answers a test provoked on purpose:
 * `besides(problems, 412, 422)` leaves out the browser's report of those
 * HTTP statuses ("Failed to load resource: … status of 422").
 */
export function besides(problems, ...statuses) {
  return problems.filter((p) => !statuses.some((status) => p.includes(`status of ${status} `)));
}

/**
 * Runs in the page (`page.evaluate(contrastProblems, selector)`): each visible
 * text under `root` below WCAG AA contrast against what is behind it.
 */
export function contrastProblems(root) {
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
  const walker = document.createTreeWalker(document.querySelector(root), NodeFilter.SHOW_TEXT);
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
