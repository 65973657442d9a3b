// Settings: the profile (name, time zone), browser notifications, the
// API tokens that assistants use (created, shown once, revoked), and the
// webhooks (webhooks.js).

import { api } from './api.js';
import { $, el, formatMoment } from './dom.js';
import { run, showMessage, submit } from './messages.js';
import { state, timeZone } from './state.js';
import { mountWebhooks } from './webhooks.js';

/**
 * Wires the settings view; returns `show(open)`, `reset()` (on logout) and
 * `webhooksChanged()` (re-reads the webhooks if the view is open).
 */
export function mountSettings() {
  const webhooks = mountWebhooks();
  const show = (open) => {
    $('#settings-view').hidden = !open;
    $('#app-view').hidden = open;
    const toggle = $('#settings-toggle');
    toggle.textContent = open ? 'Tasks' : 'Settings';
    toggle.setAttribute('aria-expanded', String(open));
    if (open) {
      fillProfile();
      return Promise.all([refreshTokens(), webhooks.refresh()]);
    }
    hideSecret();
    webhooks.hide();
    return Promise.resolve();
  };

  $('#settings-toggle').addEventListener('click', () => run(() => show($('#settings-view').hidden)));

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

  const profile = $('#profile-form');
  profile.addEventListener('submit', (e) => {
    e.preventDefault();
    submit(profile, { name: 'profile-name', timezone: 'profile-timezone' }, async () => {
      state.user = await api('PATCH', '/api/auth/me', {
        name: $('#profile-name').value.trim(),
        timezone: $('#profile-timezone').value,
      });
      showMessage(`Saved: dates are shown in ${state.user.timezone}.`, 'info');
    });
  });

  const tokenForm = $('#token-form');
  tokenForm.addEventListener('submit', (e) => {
    e.preventDefault();
    submit(tokenForm, { name: 'token-name', scope: 'token-scope', expires_in_days: 'token-expiry' }, async () => {
      const body = { name: $('#token-name').value.trim(), scope: $('#token-scope').value };
      const expiry = $('#token-expiry').value;
      if (expiry) body.expires_in_days = Number(expiry);
      const created = await api('POST', '/api/auth/tokens', body);
      $('#token-name').value = '';
      showSecret(created.secret);
      await refreshTokens();
    });
  });

  $('#token-copy').addEventListener('click', () => run(async () => {
    await navigator.clipboard.writeText($('#token-secret-value').value);
    showMessage('Token copied.', 'info');
  }));

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

  return {
    show,
    reset() {
      hideSecret();
      $('#token-list').replaceChildren();
      webhooks.reset();
    },
    webhooksChanged() {
      return $('#settings-view').hidden ? Promise.resolve() : webhooks.refresh();
    },
  };
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
  const tokens = await api('GET', '/api/auth/tokens');
  const when = (iso, none) => (iso ? formatMoment(iso) : none);
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
