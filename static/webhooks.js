// Settings → Webhooks: the user's endpoints with their state (active, paused
// by the user, disabled by the service and why, retrying), adding one, its
// signing secret shown once (after creation or a rotation), and per
// endpoint: editing its URL, description and events (in the same form),
// pause or enable, a test delivery, rotation, deletion and the recent
// delivery attempts. Also the words for a `webhook.disabled` event
// of the live channel.

import { api } from './api.js';
import { $, el } from './dom.js';
import { clearFields, run, showMessage, submit } from './messages.js';
import { timeZone } from './state.js';

const BASE = '/api/v1/webhooks';
const DELIVERIES_SHOWN = 20;
// A retrying endpoint's list is read again this long after its next
// attempt is due (so the page shows how it went), and at most this often.
const AFTER_RETRY_MS = 1500;
const RETRY_CHECK_MIN_MS = 2000;
const RETRY_CHECK_MAX_MS = 5 * 60_000;

/** "Mon 23 Nov, 14:05:07" for an instant, in the user's time zone. */
export function momentWithSeconds(iso) {
  const at = new Date(iso);
  const part = (options) => new Intl.DateTimeFormat('en-GB', { timeZone: timeZone(), ...options }).format(at);
  return `${part({ weekday: 'short', day: 'numeric', month: 'short' })}, ${
    part({ hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })}`;
}

const timeEl = (iso, cls) => el('time', { class: cls, datetime: iso, text: momentWithSeconds(iso) });
const ms = (latency) => `${latency < 10 ? latency.toFixed(1) : Math.round(latency)} ms`;
const delivered = (attempt) => attempt.status != null && attempt.status >= 200 && attempt.status < 300;

/** An attempt in words: "Delivered: 204 in 12 ms", or why it failed. */
export function attemptInWords(attempt) {
  if (delivered(attempt)) return `Delivered: ${attempt.status} in ${ms(attempt.latency_ms)}`;
  const why = attempt.error || (attempt.status != null ? `HTTP ${attempt.status}` : 'no answer');
  return `Failed after ${ms(attempt.latency_ms)}: ${why}`;
}

/** Which events an endpoint takes, in words. */
function eventsInWords(types) {
  return types.length ? types.join(', ') : 'all';
}

/** What state an endpoint is in: `[key, label]`. */
function stateOf(hook) {
  if (!hook.enabled) return hook.disabled_reason ? ['disabled', 'Disabled by the service'] : ['paused', 'Paused'];
  if (hook.failures > 0) return ['retrying', 'Retrying'];
  return ['active', 'Active'];
}

/** The words of a `webhook.disabled` event (it names the endpoint). */
export function disabledInWords(message) {
  const hook = message.webhook;
  return hook ? `Webhook to ${hook.url} disabled: ${hook.reason}` : 'A webhook was disabled: see Settings.';
}

/** Wires the section; returns `refresh()` (when shown), `hide()` and `reset()`. */
export function mountWebhooks() {
  const list = $('#webhook-list');
  const form = $('#webhook-form');
  const all = $('#webhook-all');
  const families = [...form.querySelectorAll('.webhook-family')];
  // The event type a box of the form stands for, if one does.
  const familyOf = (type) => (families.some((box) => box.value === type) ? type : null);
  // What outlives a redraw of the list: which deliveries are open, the
  // last test's result per endpoint.
  const openDeliveries = new Set();
  const results = new Map();
  // The endpoints as last read, and the one the form edits (null: it adds).
  const hooks = new Map();
  let editing = null;
  let retryTimer = null;
  let refreshSeq = 0;

  // "All" and the families exclude each other; none chosen is all.
  // Whether the events were chosen here since the form was filled (an
  // endpoint's own types that no box stands for are kept otherwise).
  let typesChosen = false;
  all.addEventListener('change', () => {
    typesChosen = true;
    if (all.checked) for (const box of families) box.checked = false;
    else if (!families.some((box) => box.checked)) all.checked = true;
  });
  for (const box of families) {
    box.addEventListener('change', () => {
      typesChosen = true;
      all.checked = !families.some((b) => b.checked);
    });
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const inputs = { url: 'webhook-url', description: 'webhook-description', event_types: 'webhook-events' };
    submit(form, inputs, async () => {
      const body = { url: $('#webhook-url').value.trim(), description: $('#webhook-description').value.trim() };
      const types = all.checked ? [] : families.filter((b) => b.checked).map((b) => b.value);
      if (editing) {
        if (typesChosen || editing.event_types.every((t) => familyOf(t))) body.event_types = types;
        const saved = await api('PATCH', `${BASE}/${editing.id}`, body);
        stopEditing();
        showMessage(`Saved the webhook to ${saved.url}.`, 'info');
        await refresh();
        list.querySelector(`li.webhook[data-id="${saved.id}"] .webhook-edit`)?.focus();
        return;
      }
      if (!body.description) delete body.description;
      body.event_types = types;
      const created = await api('POST', BASE, body);
      form.reset();
      showSecret(created, `For ${created.url}.`);
      await refresh();
    });
  });

  $('#webhook-cancel').addEventListener('click', () => {
    const id = editing?.id;
    stopEditing();
    (id && list.querySelector(`li.webhook[data-id="${id}"] .webhook-edit`) || $('#webhook-url')).focus();
  });
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && editing) {
      e.preventDefault();
      e.stopPropagation();
      $('#webhook-cancel').click();
    }
  });

  // The form takes the endpoint's URL, description and events; saving
  // changes it (its secret, cursor and state stay).
  function startEditing(hook) {
    clearFields(form);
    editing = hook;
    typesChosen = false;
    $('#webhook-url').value = hook.url;
    $('#webhook-description').value = hook.description || '';
    const chosen = new Set(hook.event_types.map(familyOf).filter(Boolean));
    for (const box of families) box.checked = chosen.has(box.value);
    all.checked = hook.event_types.length === 0;
    const own = hook.event_types.filter((t) => !familyOf(t));
    const note = $('#webhook-types-note');
    note.textContent = own.length
      ? `It also takes ${own.join(', ')} (chosen through the API): kept unless you change the events here.`
      : '';
    note.hidden = !own.length;
    $('#webhook-form-title').textContent = `Edit the webhook to ${hook.url}`;
    $('#webhook-submit').textContent = 'Save changes';
    $('#webhook-cancel').hidden = false;
    form.classList.add('editing');
    form.scrollIntoView({ block: 'nearest' });
    $('#webhook-url').focus();
  }

  function stopEditing() {
    editing = null;
    typesChosen = false;
    form.reset();
    clearFields(form);
    $('#webhook-types-note').hidden = true;
    $('#webhook-form-title').textContent = 'Add a webhook';
    $('#webhook-submit').textContent = 'Add webhook';
    $('#webhook-cancel').hidden = true;
    form.classList.remove('editing');
  }

  $('#webhook-copy').addEventListener('click', () => run(async () => {
    await navigator.clipboard.writeText($('#webhook-secret-value').value);
    showMessage('Signing secret copied.', 'info');
  }));
  $('#webhook-secret-done').addEventListener('click', () => {
    hideSecret();
    $('#webhook-url').focus();
  });

  list.addEventListener('click', (e) => {
    const button = e.target.closest('button');
    const item = e.target.closest('li.webhook');
    if (!button || !item) return;
    const { id, url } = item.dataset;
    if (button.matches('.webhook-edit')) {
      const hook = hooks.get(id);
      if (hook) startEditing(hook);
    } else if (button.matches('.webhook-toggle')) {
      const enabled = button.dataset.enable === 'true';
      run(async () => {
        await api('PATCH', `${BASE}/${id}`, { enabled });
        showMessage(enabled ? `Delivering to ${url} again.` : `Paused deliveries to ${url}.`, 'info');
        await refresh();
      });
    } else if (button.matches('.webhook-test')) {
      run(() => busy(button, 'Sending…', async () => {
        const attempt = await api('POST', `${BASE}/${id}/test`, {});
        results.set(id, { ok: delivered(attempt), text: `Test: ${attemptInWords(attempt)}` });
        await refresh();
      }));
    } else if (button.matches('.webhook-rotate')) {
      if (!window.confirm(`Make a new signing secret for ${url}? The current one keeps signing for a `
        + 'grace period, so the receiver can switch without losing a delivery.')) return;
      run(async () => {
        const rotated = await api('POST', `${BASE}/${id}/rotate-secret`, {});
        const until = rotated.previous_secret_expires_at
          ? ` The previous secret also signs until ${momentWithSeconds(rotated.previous_secret_expires_at)}.` : '';
        showSecret(rotated, `New secret for ${rotated.url}.${until}`);
        await refresh();
      });
    } else if (button.matches('.webhook-delete')) {
      if (!window.confirm(`Delete the webhook to ${url}? Nothing more is delivered to it.`)) return;
      run(async () => {
        await api('DELETE', `${BASE}/${id}`);
        if ($('#webhook-secret').dataset.id === id) hideSecret();
        if (editing?.id === id) stopEditing();
        openDeliveries.delete(id);
        results.delete(id);
        showMessage(`Deleted the webhook to ${url}.`, 'info');
        await refresh();
      });
    } else if (button.matches('.deliveries-refresh')) {
      run(async () => {
        await loadDeliveries(item);
        item.querySelector('.deliveries-refresh')?.focus();
      });
    } else if (button.matches('.delivery-redeliver')) {
      const row = button.closest('tr');
      run(() => busy(button, 'Sending…', async () => {
        const attempt = await api('POST', `${BASE}/${id}/replay`, { event_id: row.dataset.event });
        results.set(id, { ok: delivered(attempt),
                          text: `Redelivered ${attempt.event_type} #${attempt.seq}: ${attemptInWords(attempt)}` });
        await refresh();
      }));
    }
  });

  // Recent deliveries are read when opened (and again on each redraw).
  list.addEventListener('toggle', (e) => {
    const details = e.target;
    if (!details.matches?.('details.webhook-deliveries')) return;
    const item = details.closest('li.webhook');
    // A redraw opens those that were open (and reads them itself).
    if (details.open && openDeliveries.has(item.dataset.id)) return;
    if (details.open) {
      openDeliveries.add(item.dataset.id);
      run(() => loadDeliveries(item));
    } else {
      openDeliveries.delete(item.dataset.id);
    }
  }, true);

  async function loadDeliveries(item) {
    const body = item.querySelector('.deliveries-body');
    const attempts = await api('GET', `${BASE}/${item.dataset.id}/deliveries?limit=${DELIVERIES_SHOWN}`);
    body.replaceChildren(attempts.length ? deliveriesTable(attempts) : el('p', { class: 'muted', text: 'No deliveries yet.' }),
      el('button', { type: 'button', class: 'deliveries-refresh', 'aria-label': `Refresh the deliveries to ${item.dataset.url}`,
                     text: 'Refresh' }));
  }

  async function refresh() {
    const seq = ++refreshSeq;
    const read = await api('GET', BASE);
    if (seq !== refreshSeq || $('#settings-view').hidden) return;
    hooks.clear();
    for (const hook of read) hooks.set(hook.id, hook);
    // The focus stays on the same control of the same endpoint.
    const focused = document.activeElement?.closest('li.webhook') ? document.activeElement : null;
    const focusId = focused?.closest('li.webhook').dataset.id;
    const focusClass = focused?.className.split(' ')[0];
    list.replaceChildren(...read.map((hook) => item(hook, results.get(hook.id), openDeliveries.has(hook.id))));
    $('#webhook-empty').hidden = read.length !== 0;
    list.hidden = read.length === 0;
    if (focusId) {
      const again = list.querySelector(`li.webhook[data-id="${focusId}"]`);
      // The same control, or (one in the deliveries, read again below) their
      // summary; the form once the endpoint is gone.
      const target = again
        ? ((focusClass && again.querySelector(`.${focusClass}`)) || again.querySelector('summary'))
        : $('#webhook-url');
      target?.focus();
    }
    for (const id of [...openDeliveries]) {
      const open = list.querySelector(`li.webhook[data-id="${id}"]`);
      if (open) await loadDeliveries(open).catch(() => {});
      else openDeliveries.delete(id);
    }
    watchRetries(read);
  }

  // While an endpoint waits for a retry, its state is read again once the
  // retry is due, so the page shows whether it went through.
  function watchRetries(hooks) {
    clearTimeout(retryTimer);
    const due = hooks.filter((h) => h.enabled && h.next_attempt_at).map((h) => Date.parse(h.next_attempt_at));
    if (!due.length) return;
    const wait = Math.min(Math.max(Math.min(...due) - Date.now() + AFTER_RETRY_MS, RETRY_CHECK_MIN_MS), RETRY_CHECK_MAX_MS);
    retryTimer = setTimeout(() => refresh().catch(() => {}), wait);
  }

  function showSecret(created, note) {
    $('#webhook-secret').dataset.id = created.id;
    $('#webhook-secret-note').textContent = note;
    $('#webhook-secret-value').value = created.secret;
    $('#webhook-secret').hidden = false;
    $('#webhook-secret').scrollIntoView({ block: 'nearest' });
    $('#webhook-secret-value').select();
  }

  function hideSecret() {
    delete $('#webhook-secret').dataset.id;
    $('#webhook-secret-value').value = '';
    $('#webhook-secret-note').textContent = '';
    $('#webhook-secret').hidden = true;
  }

  return {
    refresh,
    hide() {
      clearTimeout(retryTimer);
      hideSecret();
      if (editing) stopEditing();
      results.clear();
    },
    reset() {
      clearTimeout(retryTimer);
      hideSecret();
      if (editing) stopEditing();
      hooks.clear();
      openDeliveries.clear();
      results.clear();
      list.replaceChildren();
    },
  };
}

// Runs `action` with `button` saying `busyText`, once at a time (the
// button stays enabled so that it keeps the focus).
async function busy(button, busyText, action) {
  if (button.getAttribute('aria-busy') === 'true') return;
  const text = button.textContent;
  button.setAttribute('aria-busy', 'true');
  button.textContent = busyText;
  try {
    await action();
  } finally {
    button.removeAttribute('aria-busy');
    button.textContent = text;
  }
}

function item(hook, result, open) {
  const [key, label] = stateOf(hook);
  const node = el('li', { class: `webhook webhook--${key}`, 'data-id': hook.id, 'data-url': hook.url, 'data-state': key });
  node.append(el('div', { class: 'webhook-head' },
    el('span', { class: 'webhook-url', text: hook.url }),
    el('span', { class: `webhook-state state-${key}`, text: label })));
  const meta = el('p', { class: 'webhook-meta muted' });
  if (hook.description) meta.append(el('span', { class: 'webhook-description', text: hook.description }), ' · ');
  meta.append(el('span', { class: 'webhook-events-shown', text: `Events: ${eventsInWords(hook.event_types)}` }));
  node.append(meta);

  if (key === 'disabled') {
    node.append(el('div', { class: 'webhook-alert' },
      el('p', {}, el('strong', { text: 'Disabled by the service: ' }), el('span', { class: 'webhook-reason', text: hook.disabled_reason })),
      el('p', {}, 'Nothing is delivered since ',
        hook.disabled_at ? timeEl(hook.disabled_at) : 'then',
        '. Once the receiver is fixed, enable it again: deliveries resume with the event where they stopped.')));
  } else if (key === 'retrying') {
    const plural = hook.failures === 1 ? 'attempt' : 'attempts';
    node.append(el('p', { class: 'webhook-retry-note' },
      `${hook.failures} failed ${plural} at the next event`,
      ...(hook.next_attempt_at ? ['; next attempt ', timeEl(hook.next_attempt_at)] : []),
      '. Later events wait for it (see Recent deliveries).'));
  } else if (key === 'paused') {
    node.append(el('p', { class: 'muted webhook-paused', text: 'Paused by you: when you resume it, deliveries pick up with the event where they stopped.' }));
  }
  if (hook.previous_secret_expires_at) {
    node.append(el('p', { class: 'muted webhook-grace' }, 'The previous secret also signs until ',
      timeEl(hook.previous_secret_expires_at), '.'));
  }

  const toggle = hook.enabled
    ? { text: 'Pause', enable: false }
    : { text: hook.disabled_reason ? 'Enable again' : 'Resume', enable: true };
  node.append(el('div', { class: 'webhook-actions' },
    el('button', { type: 'button', class: 'webhook-edit', 'aria-label': `Edit ${hook.url}`, text: 'Edit' }),
    el('button', { type: 'button', class: 'webhook-toggle', 'data-enable': String(toggle.enable),
                   'aria-label': `${toggle.text} ${hook.url}`, text: toggle.text }),
    el('button', { type: 'button', class: 'webhook-test', 'aria-label': `Send a test to ${hook.url}`, text: 'Send test' }),
    el('button', { type: 'button', class: 'webhook-rotate', 'aria-label': `Rotate the secret of ${hook.url}`, text: 'Rotate secret' }),
    el('button', { type: 'button', class: 'webhook-delete', 'aria-label': `Delete ${hook.url}`, text: 'Delete' })));
  node.append(el('p', { class: `webhook-result${result ? (result.ok ? ' ok' : ' failed') : ''}`, role: 'status',
                        text: result?.text || '' }));

  const details = el('details', { class: 'webhook-deliveries' },
    el('summary', { text: 'Recent deliveries' }),
    el('div', { class: 'deliveries-body' }, el('p', { class: 'muted', text: 'Loading…' })));
  details.open = open;
  node.append(details);
  return node;
}

// What made an attempt, after its event's type: a redelivery the user asked
// for, or the deliverer's retry (a test's type, webhook.test, says it).
function kindInWords(attempt) {
  if (attempt.kind === 'replay') return ' (redelivered)';
  return attempt.kind === 'scheduled' && attempt.attempt > 1 ? ` (try ${attempt.attempt})` : '';
}

function deliveriesTable(attempts) {
  const head = ['When', 'Event', 'Seq', 'Status', 'Latency', 'Error', 'Next retry'];
  const rows = attempts.map((a) => {
    const ok = delivered(a);
    const cell = (label, ...content) => el('td', { 'data-label': label }, ...content);
    return el('tr', { class: ok ? 'delivery ok' : 'delivery failed', 'data-event': a.event_id },
      cell('When', timeEl(a.at)),
      cell('Event', el('span', {}, a.event_type, el('span', { class: 'muted delivery-kind', text: kindInWords(a) }))),
      cell('Seq', a.seq > 0 ? String(a.seq) : '—'),
      cell('Status', el('span', { class: `delivery-status ${ok ? 'ok' : 'failed'}`,
                                  text: a.status != null ? String(a.status) : 'no answer' })),
      cell('Latency', ms(a.latency_ms)),
      cell('Error', el('span', { class: 'delivery-error', text: a.error || '—' })),
      cell('Next retry', a.next_retry_at ? timeEl(a.next_retry_at) : '—'),
      el('td', { class: 'delivery-actions' }, !ok && a.seq > 0
        ? el('button', { type: 'button', class: 'delivery-redeliver',
                         'aria-label': `Redeliver ${a.event_type} #${a.seq}`, text: 'Redeliver' })
        : ''));
  });
  return el('table', { class: 'deliveries' },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { scope: 'col', text: h })),
      el('th', {}, el('span', { class: 'visually-hidden', text: 'Actions' })))),
    el('tbody', {}, ...rows));
}
