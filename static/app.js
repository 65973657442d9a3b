// taskstream web UI: a dependency-free single page over the JSON API, in
// ES modules by concern:
//   api.js       requests and the session token
//   state.js     what the page shows, read from the API in one go
//   list.js      drawing the task list, the activity log and the sidebar
//   views.js     what each view lists, dates in words
//   quickadd.js  the main input
//   editor.js    the task dialog
//   live.js      the WebSocket: changes from elsewhere, reminders
//   keys.js      shortcuts
//   settings.js  profile, notifications, API tokens
//   webhooks.js  the settings' webhooks
//   messages.js, dom.js  the message line, element helpers
// and this module: the session, the list's actions, undo, and wiring.
//
// Data flow: every mutation calls the API and then `refresh()`, which
// re-reads the view, the counts and the tags and draws them again. The live
// channel (`/api/ws/{user_id}`) calls `refresh()` when another tab, device,
// assistant or service changes something.

import { api, dropToken, keepToken, session } from './api.js';
import { $, debounce, el } from './dom.js';
import { mountEditor } from './editor.js';
import { mountKeys } from './keys.js';
import { draw } from './list.js';
import { createLive } from './live.js';
import {
  clearFields, clearMessage, isUnreachable, run, showError, showMessage, showUndo, submit,
} from './messages.js';
import { mountQuickAdd } from './quickadd.js';
import { mountSettings } from './settings.js';
import { PAGE_SIZE, load, setView, state, timeZone } from './state.js';
import { dueInWords, viewFromHash } from './views.js';
import { disabledInWords } from './webhooks.js';

const SEARCH_DEBOUNCE_MS = 300;
const UNDO_MS = 5000;
const TOAST_MS = 15000;

let settings = null;
let keys = null;
let refreshSeq = 0;

// Re-reads what the page shows and draws it. Safe to call at any time; only
// the latest call's results are drawn.
async function refresh() {
  const seq = ++refreshSeq;
  const snapshot = await load();
  if (seq !== refreshSeq || !session.token) return;
  draw(snapshot, hiddenIds());
  keys?.reselect();
}

// ---------------------------------------------------------------- Session

const liveRefresh = debounce(() => refresh().catch(showError), 100);
const live = createLive({
  badge: $('#live-state'),
  onChange: liveRefresh,
  onReminder: (message) => remind(message),
  onWebhookDisabled: (message) => webhookDisabled(message),
  onOpen: () => {
    if (isUnreachable()) {
      clearMessage();
      liveRefresh();
    }
  },
  onEnded: sessionEnded,
});

function setSession(token, user) {
  keepToken(token);
  state.user = user;
  showApp();
}

// The server no longer takes the token (expired, revoked, logged out
// elsewhere): back to the login form. The URL keeps the view, so logging in
// again returns to it.
function sessionEnded() {
  logout();
  showMessage('Your session has ended: please log in again.', 'info');
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
  settings.reset();
  $('#session').hidden = true;
  $('#auth-view').hidden = false;
  $('#task-list').replaceChildren();
  $('#tag-list').replaceChildren();
}

function showApp() {
  $('#auth-view').hidden = true;
  settings.show(false);
  $('#session').hidden = false;
  $('#user-email').textContent = state.user.email;
  refresh().catch(showError);
  live.start(state.user.id);
}

// A toast in the page and, if the user allowed it, a notification from the
// browser (`tag`: one per thing told).
function toast(text, tag, kind = '') {
  const close = el('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '✕' });
  const shown = el('div', { class: `toast${kind ? ` toast-${kind}` : ''}`, role: 'alert' }, el('span', { text }), close);
  close.addEventListener('click', () => shown.remove());
  $('#toasts').append(shown);
  setTimeout(() => shown.remove(), TOAST_MS);
  if ('Notification' in window && Notification.permission === 'granted') {
    new Notification('taskstream', { body: text, tag });
  }
}

// A reminder that fired.
function remind(message) {
  const due = message.due_at ? ` — due ${dueInWords(message.due_at, timeZone())}` : '';
  toast(`Reminder: ${message.title}${due}`, message.task_id);
}

// The service disabled a webhook (410 Gone, or its retries spent): said in
// a toast, and the settings' list shows it if open.
function webhookDisabled(message) {
  toast(disabledInWords(message), message.event_id, 'webhook');
  settings.webhooksChanged().catch(showError);
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

// ---------------------------------------------------------------- Wiring

function wireAuth() {
  const signIn = (form, inputOf, request) => form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit(form, inputOf, async () => {
      const { user, token } = await request();
      for (const authForm of $('#auth-view').querySelectorAll('form')) {
        clearFields(authForm);
        authForm.reset();
      }
      setSession(token, user);
    });
  });
  signIn($('#login-form'), { email: 'email', password: 'password' }, () => api('POST', '/api/auth/login', {
    email: $('#email').value.trim(),
    password: $('#password').value,
  }));
  const signUpInputs = { name: 'signup-name', email: 'signup-email', password: 'signup-password' };
  signIn($('#signup-form'), signUpInputs, () => {
    const body = {
      email: $('#signup-email').value.trim(),
      password: $('#signup-password').value,
      timezone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    };
    const name = $('#signup-name').value.trim();
    if (name) body.name = name;
    return api('POST', '/api/auth/signup', body);
  });
  $('#logout').addEventListener('click', () => {
    clearMessage();
    endSession();
  });
}

// What each row's controls do: complete or reopen, edit, skip, delete.
function wireList(list) {
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
    returnFocus: (task) => keys.focusTask(task.id),
  });
  list.addEventListener('click', (e) => {
    const row = e.target.closest('li.task');
    if (!row) return;
    const { id } = row.dataset;
    if (e.target.closest('.task-title')) {
      run(async () => edit(await api('GET', `/api/v1/tasks/${id}`)));
    } else if (e.target.closest('.task-skip')) {
      run(async () => {
        await api('POST', `/api/v1/tasks/${id}/skip-occurrence`);
        await refresh();
      });
    } else if (e.target.closest('.task-delete')) {
      const title = row.querySelector('.task-title').textContent;
      run(() => deleteLater([id], `Deleted "${title}".`,
        (options) => api('DELETE', `/api/v1/tasks/${id}`, undefined, options)));
    }
  });

  $('#clear-completed').addEventListener('click', () => {
    const ids = [...list.querySelectorAll('li.task.completed')].map((row) => row.dataset.id);
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

// The toolbar and the view: search, filters, sort, more rows; the URL's hash
// names the view (back and forward work).
function wireToolbar() {
  window.addEventListener('hashchange', () => run(() => {
    setView(viewFromHash(location.hash));
    $('#sort-by').value = '';
    return refresh();
  }));
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
}

function wire() {
  wireAuth();
  settings = mountSettings();
  mountQuickAdd({
    form: $('#quick-add'),
    input: $('#quick-add-text'),
    overlay: $('#quick-add-highlight'),
    preview: $('#quick-add-preview'),
    timeZone,
    onCreated: () => refresh(),
    onError: showError,
  });
  const list = $('#task-list');
  wireList(list);
  keys = mountKeys({
    list,
    focusQuickAdd: () => $('#quick-add-text').focus(),
    focusSearch: () => $('#search').focus(),
  });
  wireToolbar();
  window.addEventListener('pagehide', flushDeletes);
}

async function start() {
  session.onUnauthorized = sessionEnded;
  wire();
  if (!session.token) return showAuth();
  try {
    state.user = await api('GET', '/api/auth/me');
    showApp();
  } catch (err) {
    showError(err); // network trouble: the token is kept
    if (!state.user) showAuth();
  }
}

start();
