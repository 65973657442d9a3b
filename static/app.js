// taskstream web UI: a dependency-free single page over the JSON API, in
// ES modules by concern: `api.js` (requests, the session token),
// `quickadd.js` (the main input), `live.js` (the WebSocket), `views.js`
// (what each view lists, dates in words), `editor.js` (the task dialog),
// `keys.js` (shortcuts), and this module (session, lists, settings).
//
// Data flow: every mutation calls the API and then `refresh()`, which
// re-reads tasks and tags from the server and re-renders both lists. The
// live channel (`/api/ws/{user_id}`) calls `refresh()` when another tab or
// device changes something, and shows reminders as they fire.

import { api, dropToken, keepToken, session } from './api.js';
import { mountEditor } from './editor.js';
import { mountKeys } from './keys.js';
import { createLive } from './live.js';
import { mountQuickAdd } from './quickadd.js';
import {
  dateIn, dayInWords, dueInWords, hashOf, momentInWords, queryOf, titleOf, viewFromHash,
} from './views.js';

const SEARCH_DEBOUNCE_MS = 300;
const UNDO_MS = 5000;
const PAGE_SIZE = 100;

const state = {
  user: null,
  view: viewFromHash(location.hash),
  // The toolbar, on top of the view: '' leaves the view's own choice.
  filters: { search: '', priority: '', sort: '' },
  shown: PAGE_SIZE,
};

const timeZone = () => state.user?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;

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

// Whether the message shown is "cannot reach the server" (cleared once the
// live connection is back).
let unreachable = false;

function showError(err) {
  // fetch() rejects with a TypeError when no answer came at all.
  if (err instanceof TypeError) {
    showMessage('Cannot reach the server; changes will show again once it is back.', 'error');
    unreachable = true;
    return;
  }
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
  unreachable = false;
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

const liveRefresh = debounce(() => refresh().catch(showError), 100);
const live = createLive({
  badge: $('#live-state'),
  onChange: liveRefresh,
  onReminder: (message) => remind(message),
  onOpen: () => {
    if (unreachable) {
      clearMessage();
      liveRefresh();
    }
  },
  onEnded: () => {
    logout();
    showMessage('Your session has ended: please log in again.', 'info');
  },
});

const TOAST_MS = 15000;

// A reminder that fired: a toast in the page and, if the user allowed it, a
// notification from the browser.
function remind(message) {
  const due = message.due_at ? ` — due ${dueInWords(message.due_at, timeZone())}` : '';
  const text = `Reminder: ${message.title}${due}`;
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '✕' });
  const toast = el('div', { class: 'toast', role: 'alert' }, el('span', { text }), close);
  close.addEventListener('click', () => toast.remove());
  $('#toasts').append(toast);
  setTimeout(() => toast.remove(), TOAST_MS);
  if ('Notification' in window && Notification.permission === 'granted') {
    new Notification('taskstream', { body: text, tag: message.task_id });
  }
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
  live.stop();
  dropToken();
  state.user = null;
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
  live.start(state.user.id);
}

// ---------------------------------------------------------------- Settings

// Swaps the task view for the settings view, or back.
function showSettings(open) {
  $('#settings-view').hidden = !open;
  $('#app-view').hidden = open;
  const toggle = $('#settings-toggle');
  toggle.textContent = open ? 'Tasks' : 'Settings';
  toggle.setAttribute('aria-expanded', String(open));
  if (open) {
    fillProfile();
    return refreshTokens();
  }
  hideSecret();
  return Promise.resolve();
}

function fillProfile() {
  const select = $('#profile-timezone');
  if (!select.options.length) {
    const zones = Intl.supportedValuesOf ? Intl.supportedValuesOf('timeZone') : [];
    select.append(...['UTC', ...zones.filter((z) => z !== 'UTC')].map((z) => new Option(z, z)));
  }
  if (![...select.options].some((o) => o.value === timeZone())) select.append(new Option(timeZone(), timeZone()));
  select.value = timeZone();
  $('#profile-name').value = state.user.name || '';
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
let keys = null;

// The view's query with the toolbar's search, priority and sort on top.
function listQuery(today) {
  const query = { ...queryOf(state.view, today), limit: String(state.shown) };
  const { search, priority, sort } = state.filters;
  if (search) query.search = search;
  if (priority) query.priority = priority;
  if (sort) [query.sort_by, query.sort_order] = sort.split(':');
  return new URLSearchParams(query);
}

// How many tasks each view holds, for the sidebar.
async function viewCounts(today) {
  const kinds = ['inbox', 'today', 'upcoming', 'completed'];
  const totals = await Promise.all(kinds.map((kind) => {
    const query = new URLSearchParams({ ...queryOf({ kind }, today), limit: '1' });
    return api('GET', `/api/v1/tasks?${query}`).then((page) => page.total);
  }));
  return Object.fromEntries(kinds.map((kind, i) => [kind, totals[i]]));
}

// Re-reads the view, its counts and the tags from the API and re-renders.
// Safe to call at any time; only the latest call's results are drawn.
async function refresh() {
  const seq = ++refreshSeq;
  const today = dateIn(new Date(), timeZone());
  const activity = state.view.kind === 'activity';
  const [page, tags, counts] = await Promise.all([
    activity
      ? api('GET', `/api/v1/activity-logs?limit=${state.shown}`)
      : api('GET', `/api/v1/tasks?${listQuery(today)}`),
    api('GET', '/api/v1/tags'),
    viewCounts(today),
  ]);
  if (seq !== refreshSeq || !session.token) return;
  $('#view-title').textContent = titleOf(state.view);
  $('.toolbar').hidden = activity;
  if (activity) renderActivity(page);
  else renderTasks(page);
  renderSidebar(tags, counts);
}

// The user's activity log, newest first: what changed, by any client.
function renderActivity(page) {
  $('#task-list').replaceChildren(...page.items.map((entry) => el('li', { class: 'activity' },
    el('span', { class: 'activity-summary', text: entry.summary }),
    el('time', { class: 'muted', datetime: entry.time, text: momentInWords(entry.time, timeZone()) }))));
  $('#task-count').textContent = `${page.total} change${page.total === 1 ? '' : 's'}`;
  $('#show-more').hidden = page.items.length >= page.total;
  $('#task-empty').hidden = page.items.length !== 0;
  $('#task-empty').textContent = 'Nothing has happened yet.';
  $('#clear-completed').hidden = true;
}

function renderTasks(page) {
  const hidden = hiddenIds();
  const visible = page.items.filter((task) => !hidden.has(task.id));
  const rows = [];
  let day = null;
  for (const task of visible) {
    // Upcoming is grouped by day.
    if (state.view.kind === 'upcoming' && task.due_at) {
      const date = dateIn(new Date(task.due_at), timeZone());
      if (date !== day) {
        day = date;
        rows.push(el('li', { class: 'day-heading', role: 'presentation' },
          el('h3', { text: dayInWords(date) })));
      }
    }
    rows.push(renderTask(task));
  }
  $('#task-list').replaceChildren(...rows);
  keys?.reselect();
  const total = page.total - (page.items.length - visible.length);
  $('#task-count').textContent = page.items.length < page.total
    ? `Showing ${visible.length} of ${total} tasks`
    : `${total} task${total === 1 ? '' : 's'}`;
  $('#show-more').hidden = page.items.length >= page.total;
  $('#task-empty').hidden = visible.length !== 0;
  $('#task-empty').textContent = EMPTY[state.view.kind];
  $('#clear-completed').hidden = state.view.kind !== 'completed' || total === 0;
}

const EMPTY = {
  inbox: 'Nothing to do. Add a task above — try "Call mom tomorrow 5pm".',
  today: 'Nothing due today.',
  upcoming: 'Nothing due in the next seven days.',
  completed: 'No completed tasks yet.',
  tag: 'No open tasks with this tag.',
};

function renderTask(task) {
  const overdue = !task.completed && task.due_at && new Date(task.due_at) < new Date();
  const classes = ['task', task.completed && 'completed', overdue && 'overdue'].filter(Boolean);

  const meta = el('div', { class: 'task-meta' });
  if (task.priority && task.priority !== 'none') {
    meta.append(el('span', { class: `priority priority-${task.priority}`, text: task.priority }));
  }
  if (task.due_at) {
    meta.append(el('time', { class: 'task-due', datetime: task.due_at, title: formatDue(task.due_at),
                             text: dueInWords(task.due_at, timeZone()) }));
  }
  if (task.recurrence_pattern) {
    meta.append(el('span', { class: 'task-recurrence', text: `↻ ${task.recurrence_pattern}` }));
  }
  if (task.reminder_offset_minutes != null && task.due_at) {
    meta.append(el('span', { class: 'task-reminder', text: `reminder ${offsetInWords(task.reminder_offset_minutes)}` }));
  }
  for (const name of task.tags) {
    meta.append(el('a', { class: 'tag-chip', href: hashOf({ kind: 'tag', tag: name }), text: name }));
  }

  return el('li', { class: classes.join(' '), 'data-id': task.id },
    el('input', { type: 'checkbox', class: 'task-toggle', checked: task.completed,
                  'aria-label': `${task.completed ? 'Reopen' : 'Complete'} ${task.title}` }),
    el('div', { class: 'task-body' },
      el('button', { type: 'button', class: 'task-title', 'aria-label': `Edit ${task.title}`, text: task.title }),
      meta),
    task.recurrence_pattern && !task.completed
      ? el('button', { type: 'button', class: 'task-skip', 'aria-label': `Skip this occurrence of ${task.title}`,
                       title: 'Skip to the next occurrence', text: '⤼' })
      : '',
    el('button', { type: 'button', class: 'task-delete', 'aria-label': `Delete ${task.title}`, text: '✕' }));
}

function offsetInWords(minutes) {
  if (minutes === 0) return 'at the due time';
  if (minutes % 1440 === 0) return `${minutes / 1440} day${minutes === 1440 ? '' : 's'} before`;
  if (minutes % 60 === 0) return `${minutes / 60} h before`;
  return `${minutes} min before`;
}

function renderSidebar(tags, counts) {
  const link = (view, label, count, color) => {
    const current = hashOf(view) === hashOf(state.view);
    const a = el('a', { class: `view-link${current ? ' active' : ''}`, href: hashOf(view),
                        'aria-current': current ? 'page' : null });
    if (color) a.append(el('span', { class: 'tag-dot', 'data-color': color }));
    a.append(el('span', { text: label }));
    if (count != null) a.append(el('span', { class: 'count', text: String(count) }));
    return el('li', {}, a);
  };
  $('#view-list').replaceChildren(
    ...['inbox', 'today', 'upcoming', 'completed'].map((kind) => link({ kind }, titleOf({ kind }), counts[kind])),
    link({ kind: 'activity' }, 'Activity'));
  $('#tag-list').replaceChildren(...tags.map((t) => link({ kind: 'tag', tag: t.name }, t.name, t.task_count,
    /^#[0-9a-f]{3,8}$/i.test(t.color) ? t.color : null)));
  $('#tags-heading').hidden = tags.length === 0;
  // Colours come from data, so they are set as properties, not markup
  // (the page's Content-Security-Policy forbids inline styles).
  for (const dot of document.querySelectorAll('.tag-dot[data-color]')) {
    dot.style.setProperty('background', dot.dataset.color);
  }
}

// Shows another view (the URL's hash names it: back and forward work).
function showView() {
  state.view = viewFromHash(location.hash);
  state.shown = PAGE_SIZE;
  state.filters.sort = '';
  $('#sort-by').value = '';
  return refresh();
}

// ---------------------------------------------------------------- Undo

// Deletions wait a few seconds, their tasks hidden, so that they can be
// undone: each entry is keyed by the ids it hides.
const pendingDeletes = new Map();

const hiddenIds = () => new Set([...pendingDeletes.keys()].flatMap((key) => key.split(',')));

function deleteLater(ids, label, action) {
  const key = ids.join(',');
  const timer = setTimeout(() => {
    pendingDeletes.delete(key);
    run(async () => {
      try {
        await action();
      } finally {
        await refresh().catch(() => {});
      }
    });
  }, UNDO_MS);
  pendingDeletes.set(key, { timer, action });
  showUndo(label, () => {
    clearTimeout(timer);
    pendingDeletes.delete(key);
    return refresh();
  });
  return refresh();
}

// Leaving the page carries out what was waiting.
function flushDeletes() {
  for (const [key, { timer, action }] of pendingDeletes) {
    clearTimeout(timer);
    pendingDeletes.delete(key);
    action({ keepalive: true }).catch(() => {});
  }
}

function showUndo(text, undo) {
  showMessage(text, 'info');
  const button = el('button', { type: 'button', class: 'undo', text: 'Undo' });
  button.addEventListener('click', () => {
    clearMessage();
    run(undo);
  });
  $('#message').append(' ', button);
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

  const notify = $('#notify-allow');
  const showPermission = () => {
    const granted = 'Notification' in window && Notification.permission === 'granted';
    notify.textContent = granted ? 'Browser notifications are on' : 'Allow browser notifications';
    notify.disabled = granted || !('Notification' in window) || Notification.permission === 'denied';
  };
  showPermission();
  notify.addEventListener('click', () => run(async () => {
    await Notification.requestPermission();
    showPermission();
  }));

  $('#profile-form').addEventListener('submit', (e) => {
    e.preventDefault();
    run(async () => {
      state.user = await api('PATCH', '/api/auth/me', {
        name: $('#profile-name').value.trim(),
        timezone: $('#profile-timezone').value,
      });
      showMessage(`Saved: dates are shown in ${state.user.timezone}.`, 'info');
    });
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
  const edit = mountEditor({
    timeZone,
    save: (id, body, version) => api('PATCH', `/api/v1/tasks/${id}`, body, { headers: { 'If-Match': `"${version}"` } }),
    reload: (id) => api('GET', `/api/v1/tasks/${id}`),
    onSaved: () => refresh(),
  });
  list.addEventListener('click', (e) => {
    const opener = e.target.closest('.task-title');
    if (opener) {
      const id = opener.closest('li.task').dataset.id;
      run(async () => edit(await api('GET', `/api/v1/tasks/${id}`)));
      return;
    }
    const skip = e.target.closest('.task-skip');
    if (skip) {
      const id = skip.closest('li.task').dataset.id;
      run(async () => {
        await api('POST', `/api/v1/tasks/${id}/skip-occurrence`);
        await refresh();
      });
      return;
    }
    const target = e.target.closest('.task-delete');
    if (!target) return;
    const row = target.closest('li.task');
    const title = row.querySelector('.task-title').textContent;
    run(() => deleteLater([row.dataset.id], `Deleted "${title}".`,
      (options) => api('DELETE', `/api/v1/tasks/${row.dataset.id}`, undefined, options)));
  });

  keys = mountKeys({
    list,
    focusQuickAdd: () => $('#quick-add-text').focus(),
    focusSearch: () => $('#search').focus(),
  });

  window.addEventListener('hashchange', () => run(showView));
  window.addEventListener('pagehide', flushDeletes);

  $('#show-more').addEventListener('click', () => {
    state.shown += PAGE_SIZE;
    run(refresh);
  });

  $('#search').addEventListener('input', debounce((e) => {
    state.filters.search = e.target.value.trim();
    run(refresh);
  }, SEARCH_DEBOUNCE_MS));

  $('#priority-filter').addEventListener('change', (e) => {
    state.filters.priority = e.target.value;
    run(refresh);
  });

  $('#sort-by').addEventListener('change', (e) => {
    state.filters.sort = e.target.value;
    run(refresh);
  });

  $('#clear-completed').addEventListener('click', () => {
    const ids = [...document.querySelectorAll('#task-list li.task.completed')].map((row) => row.dataset.id);
    if (!ids.length) return;
    run(() => deleteLater(ids, `Cleared ${ids.length} completed task${ids.length === 1 ? '' : 's'}.`,
      async (options) => {
        // Only the tasks that were shown: one at a time, those still there.
        for (const id of ids) {
          await api('DELETE', `/api/v1/tasks/${id}`, undefined, options).catch((err) => {
            if (err.status !== 404) throw err;
          });
        }
      }));
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
