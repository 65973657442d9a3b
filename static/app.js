// taskstream web UI: a dependency-free single page over the JSON API, in
// ES modules by concern: `api.js` (requests, the session token),
// `quickadd.js` (the main input), and this module (session, live channel,
// lists, settings).
//
// Data flow: every mutation calls the API and then `refresh()`, which
// re-reads tasks and tags from the server and re-renders both lists. The
// live channel (`/api/ws/{user_id}`) calls `refresh()` when another tab or
// device changes something, and shows reminders as they fire.

import { api, dropToken, keepToken, session } from './api.js';
import { mountQuickAdd } from './quickadd.js';

const SEARCH_DEBOUNCE_MS = 300;
const LIVE_RETRY_MS = 2000;

const state = {
  user: null,
  filters: { search: '', status: 'all', sort: 'created_at:desc', tag: '' },
};

const $ = (selector) => document.querySelector(selector);

// ---------------------------------------------------------------- Messages

let messageTimer = null;

function showMessage(text, kind = 'error') {
  const box = $('#message');
  clearTimeout(messageTimer);
  box.className = kind;
  box.replaceChildren(document.createTextNode(text));
  box.hidden = false;
  if (kind === 'info') messageTimer = setTimeout(clearMessage, 4000);
}

function showError(err) {
  showMessage(err.message || String(err), 'error');
  if (err.details && typeof err.details === 'object') {
    const list = el('ul', { class: 'details' });
    for (const [field, reason] of Object.entries(err.details)) {
      list.append(el('li', { text: `${field}: ${reason}` }));
    }
    if (list.childElementCount) $('#message').append(list);
  }
}

function clearMessage() {
  clearTimeout(messageTimer);
  $('#message').hidden = true;
  $('#message').replaceChildren();
}

// Runs a user action: clears the old message, reports any failure.
async function run(action) {
  clearMessage();
  try {
    await action();
  } catch (err) {
    showError(err);
  }
}

// ---------------------------------------------------------------- DOM helpers

// Builds an element. Text always goes through textContent / text nodes,
// so user data is never parsed as HTML.
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : value);
  }
  node.append(...children);
  return node;
}

function formatDue(iso) {
  return new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

// ---------------------------------------------------------------- Session

function setSession(token, user) {
  keepToken(token);
  state.user = user;
  showApp();
}

// The live channel: browsers cannot set headers on a WebSocket, so the
// token travels as the subprotocol pair `bearer, <token>`. On a drop it
// reconnects and resumes after the last sequence number it saw.
let live = null;
let lastSeq = null;
const liveRefresh = debounce(() => refresh().catch(showError), 100);

function connectLive() {
  if (!session.token || !state.user || live) return;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const since = lastSeq === null ? '' : `?since=${lastSeq}`;
  const socket = new WebSocket(`${scheme}://${location.host}/api/ws/${encodeURIComponent(state.user.id)}${since}`, ['bearer', session.token]);
  live = socket;
  socket.onmessage = (frame) => {
    const message = JSON.parse(frame.data);
    if (message.type === 'hello' && lastSeq === null) lastSeq = message.last_seq;
    if (typeof message.seq === 'number') lastSeq = message.seq;
    if (message.type === 'event') liveRefresh();
    if (message.type === 'reminder') showMessage(`Reminder: ${message.title}`, 'info');
    if (message.type === 'resync_required') { lastSeq = message.last_seq; liveRefresh(); }
  };
  socket.onclose = (event) => {
    if (live !== socket) return;
    live = null;
    // 4001: the token was revoked (logged out elsewhere) or has expired.
    if (event.code === 4001) {
      logout();
      showMessage('Your session has ended: please log in again.', 'info');
      return;
    }
    if (session.token) setTimeout(connectLive, LIVE_RETRY_MS);
  };
}

function disconnectLive() {
  const socket = live;
  live = null;
  lastSeq = null;
  if (socket) socket.close(1000);
}

// Ends the session on the server too (the token stops working on every
// device and socket), then locally. Locally it ends whatever the server says.
async function endSession() {
  if (session.token) {
    try {
      await api('POST', '/api/auth/logout');
    } catch {
      // Already revoked or unreachable: the local session ends regardless.
    }
  }
  logout();
}

function logout() {
  disconnectLive();
  dropToken();
  state.user = null;
  state.filters.tag = '';
  showAuth();
}

function showAuth() {
  $('#app-view').hidden = true;
  $('#settings-view').hidden = true;
  hideSecret();
  $('#token-list').replaceChildren();
  $('#session').hidden = true;
  $('#auth-view').hidden = false;
  $('#task-list').replaceChildren();
  $('#tag-list').replaceChildren();
}

function showApp() {
  $('#auth-view').hidden = true;
  showSettings(false);
  $('#session').hidden = false;
  $('#user-email').textContent = state.user.email;
  refresh().catch(showError);
  connectLive();
}

// ---------------------------------------------------------------- Settings

// Swaps the task view for the settings view, or back.
function showSettings(open) {
  $('#settings-view').hidden = !open;
  $('#app-view').hidden = open;
  const toggle = $('#settings-toggle');
  toggle.textContent = open ? 'Tasks' : 'Settings';
  toggle.setAttribute('aria-expanded', String(open));
  if (open) return refreshTokens();
  hideSecret();
  return Promise.resolve();
}

async function refreshTokens() {
  renderTokens(await api('GET', '/api/auth/tokens'));
}

function renderTokens(tokens) {
  const when = (iso, none) => (iso ? formatDue(iso) : none);
  $('#token-list').replaceChildren(...tokens.map((token) => el('tr', { 'data-id': token.id },
    el('td', { text: token.name }),
    el('td', { text: token.scope === 'write' ? 'Read and write' : 'Read only' }),
    el('td', { text: when(token.created_at) }),
    el('td', { text: when(token.last_used_at, 'Never') }),
    el('td', { text: when(token.expires_at, 'Never') }),
    el('td', {}, el('button', { type: 'button', class: 'token-revoke',
                                'aria-label': `Revoke ${token.name}`, text: 'Revoke' })))));
  $('#token-table').hidden = tokens.length === 0;
  $('#token-empty').hidden = tokens.length !== 0;
}

function showSecret(secret) {
  $('#token-secret-value').value = secret;
  $('#token-secret').hidden = false;
  $('#token-secret-value').select();
}

function hideSecret() {
  $('#token-secret-value').value = '';
  $('#token-secret').hidden = true;
}

// ---------------------------------------------------------------- Rendering

let refreshSeq = 0;

// Re-reads tasks and tags from the API and re-renders. Safe to call at any
// time; only the latest call's results are drawn.
async function refresh() {
  const seq = ++refreshSeq;
  const { search, status, sort, tag } = state.filters;
  const [sortBy, sortOrder] = sort.split(':');
  const query = new URLSearchParams({ status, sort_by: sortBy, sort_order: sortOrder, limit: '50' });
  if (search) query.set('search', search);
  if (tag) query.set('tags', tag);

  const [page, tags] = await Promise.all([
    api('GET', `/api/v1/tasks?${query}`),
    api('GET', '/api/v1/tags'),
  ]);
  if (seq !== refreshSeq || !session.token) return;
  renderTasks(page);
  renderTags(tags);
}

function renderTasks(page) {
  $('#task-list').replaceChildren(...page.items.map(renderTask));
  $('#task-count').textContent = page.items.length < page.total
    ? `Showing ${page.items.length} of ${page.total} tasks`
    : `${page.total} task${page.total === 1 ? '' : 's'}`;
}

function renderTask(task) {
  const overdue = !task.completed && task.due_at && new Date(task.due_at) < new Date();
  const classes = ['task', task.completed && 'completed', overdue && 'overdue'].filter(Boolean);

  const meta = el('div', { class: 'task-meta' });
  if (task.priority && task.priority !== 'none') {
    meta.append(el('span', { class: `priority priority-${task.priority}`, text: task.priority }));
  }
  if (task.due_at) {
    meta.append(el('time', { class: 'task-due', datetime: task.due_at, text: formatDue(task.due_at) }));
  }
  if (task.recurrence_pattern) {
    meta.append(el('span', { class: 'task-recurrence', text: `↻ ${task.recurrence_pattern}` }));
  }
  for (const name of task.tags) {
    meta.append(el('button', { type: 'button', class: 'tag-chip', 'data-tag': name, text: name }));
  }

  return el('li', { class: classes.join(' '), 'data-id': task.id },
    el('input', { type: 'checkbox', class: 'task-toggle', checked: task.completed,
                  'aria-label': task.completed ? 'Mark as pending' : 'Mark as done' }),
    el('div', { class: 'task-body' },
      el('span', { class: 'task-title', text: task.title }),
      meta),
    el('button', { type: 'button', class: 'task-delete', 'aria-label': 'Delete task', text: '✕' }));
}

function renderTags(tags) {
  const item = (name, label, count, color) => {
    const button = el('button', {
      type: 'button',
      class: `tag-filter${state.filters.tag === name ? ' active' : ''}`,
      'data-tag': name,
    });
    if (color) button.append(el('span', { class: 'tag-dot', style: `background:${color}` }));
    button.append(el('span', { text: label }));
    if (count != null) button.append(el('span', { class: 'count', text: String(count) }));
    return el('li', {}, button);
  };
  $('#tag-list').replaceChildren(
    item('', 'All tasks'),
    ...tags.map((t) => item(t.name, t.name, t.task_count, /^#[0-9a-f]{3,8}$/i.test(t.color) ? t.color : null)));
}

function filterByTag(name) {
  state.filters.tag = state.filters.tag === name ? '' : name;
  return refresh();
}

// ---------------------------------------------------------------- Wiring

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function wire() {
  $('#login-form').addEventListener('submit', (e) => {
    e.preventDefault();
    run(async () => {
      const { user, token } = await api('POST', '/api/auth/login', {
        email: $('#email').value.trim(),
        password: $('#password').value,
      });
      e.target.reset();
      setSession(token, user);
    });
  });

  $('#signup-form').addEventListener('submit', (e) => {
    e.preventDefault();
    run(async () => {
      const body = {
        email: $('#signup-email').value.trim(),
        password: $('#signup-password').value,
        timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
      };
      const name = $('#signup-name').value.trim();
      if (name) body.name = name;
      const { user, token } = await api('POST', '/api/auth/signup', body);
      e.target.reset();
      setSession(token, user);
    });
  });

  $('#settings-toggle').addEventListener('click', () => {
    run(() => showSettings($('#settings-view').hidden));
  });

  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    run(async () => {
      const body = { name: $('#token-name').value.trim(), scope: $('#token-scope').value };
      const expiry = $('#token-expiry').value;
      if (expiry) body.expires_in_days = Number(expiry);
      const created = await api('POST', '/api/auth/tokens', body);
      $('#token-name').value = '';
      showSecret(created.secret);
      await refreshTokens();
    });
  });

  $('#token-copy').addEventListener('click', () => {
    run(async () => {
      await navigator.clipboard.writeText($('#token-secret-value').value);
      showMessage('Token copied.', 'info');
    });
  });

  $('#token-list').addEventListener('click', (e) => {
    const button = e.target.closest('.token-revoke');
    if (!button) return;
    const row = button.closest('tr');
    const name = row.firstChild.textContent;
    if (!window.confirm(`Revoke "${name}"? Anything using it stops working at once.`)) return;
    run(async () => {
      await api('DELETE', `/api/auth/tokens/${row.dataset.id}`);
      showMessage(`Revoked "${name}".`, 'info');
      await refreshTokens();
    });
  });

  $('#logout').addEventListener('click', () => {
    clearMessage();
    endSession();
  });

  mountQuickAdd({
    form: $('#quick-add'),
    input: $('#quick-add-text'),
    overlay: $('#quick-add-highlight'),
    preview: $('#quick-add-preview'),
    timeZone: () => state.user?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone,
    onCreated: () => refresh(),
    onError: showError,
  });

  const list = $('#task-list');
  list.addEventListener('change', (e) => {
    if (!e.target.matches('.task-toggle')) return;
    const id = e.target.closest('li.task').dataset.id;
    const action = e.target.checked ? 'complete' : 'uncomplete';
    run(async () => {
      try {
        await api('POST', `/api/v1/tasks/${id}/${action}`);
      } finally {
        await refresh().catch(() => {});
      }
    });
  });
  list.addEventListener('click', (e) => {
    const target = e.target.closest('.task-delete, .tag-chip');
    if (!target) return;
    if (target.matches('.tag-chip')) {
      run(() => filterByTag(target.dataset.tag));
      return;
    }
    const id = target.closest('li.task').dataset.id;
    run(async () => {
      await api('DELETE', `/api/v1/tasks/${id}`);
      await refresh();
    });
  });

  $('#tag-list').addEventListener('click', (e) => {
    const button = e.target.closest('.tag-filter');
    if (button) run(() => filterByTag(button.dataset.tag));
  });

  $('#search').addEventListener('input', debounce((e) => {
    state.filters.search = e.target.value.trim();
    run(refresh);
  }, SEARCH_DEBOUNCE_MS));

  $('#status-filter').addEventListener('change', (e) => {
    state.filters.status = e.target.value;
    run(refresh);
  });

  $('#sort-by').addEventListener('change', (e) => {
    state.filters.sort = e.target.value;
    run(refresh);
  });

  $('#clear-completed').addEventListener('click', () => {
    run(async () => {
      const { deleted } = await api('POST', '/api/v1/tasks/clear-completed');
      showMessage(`Deleted ${deleted} completed task${deleted === 1 ? '' : 's'}.`, 'info');
      await refresh();
    });
  });
}

async function start() {
  session.onUnauthorized = logout;
  wire();
  if (!session.token) return showAuth();
  try {
    state.user = await api('GET', '/api/auth/me');
    showApp();
  } catch (err) {
    if (session.token) showError(err); // network trouble: keep the token
    else showMessage('Your session has expired. Please log in again.');
    if (!state.user) showAuth();
  }
}

start();
