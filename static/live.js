// The live channel: one WebSocket to the user's stream while signed in.
// Browsers cannot set headers on a WebSocket, so the token travels as the
// subprotocol pair `bearer, <token>`. On a drop it reconnects and resumes
// after the last sequence number it saw (`?since=`), so nothing is missed
// and nothing comes twice; a badge says whether it is live.

import { session } from './api.js';

const RETRY_MS = 2000;
const WORDS = { live: 'Live', reconnecting: 'Reconnecting…', offline: 'Offline' };
// The server closes with this when the token was revoked or has expired.
const CLOSE_UNAUTHORIZED = 4001;

/**
 * `onChange()` runs when something of the user's changed (or may have: a
 * resync), `onReminder(message)` when a reminder fires,
 * `onWebhookDisabled(message)` when the service disabled one of the user's
 * webhooks, `onOpen()` when a connection is (re)established, `onEnded()`
 * when the server ended the session.
 */
export function createLive({ badge, onChange, onReminder, onWebhookDisabled = () => {}, onOpen, onEnded }) {
  let socket = null;
  let lastSeq = null;
  let userId = null;

  const show = (kind) => {
    badge.dataset.state = kind;
    badge.textContent = WORDS[kind];
  };

  const connect = () => {
    if (!session.token || !userId || socket) return;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const since = lastSeq === null ? '' : `?since=${lastSeq}`;
    const opened = new WebSocket(`${scheme}://${location.host}/api/ws/${encodeURIComponent(userId)}${since}`,
      ['bearer', session.token]);
    socket = opened;
    opened.onopen = () => {
      show('live');
      onOpen();
    };
    opened.onmessage = (frame) => {
      const message = JSON.parse(frame.data);
      if (message.type === 'hello' && lastSeq === null) {
        // The stream starts after `last_seq`: a change committed between
        // the page's first read and this hello comes in no event, so the
        // page reads once more.
        lastSeq = message.last_seq;
        onChange();
      }
      if (typeof message.seq === 'number') lastSeq = message.seq;
      if (message.type === 'event') {
        // Every event may change what the page shows: webhook events
        // (`task_id` and `task` null) appear in the activity log.
        onChange();
        if (message.event_type === 'webhook.disabled') onWebhookDisabled(message);
      }
      if (message.type === 'reminder') onReminder(message);
      if (message.type === 'resync_required') {
        lastSeq = message.last_seq;
        onChange();
      }
    };
    opened.onclose = (event) => {
      if (socket !== opened) return;
      socket = null;
      if (event.code === CLOSE_UNAUTHORIZED) {
        onEnded();
        return;
      }
      if (session.token && userId) {
        show(navigator.onLine ? 'reconnecting' : 'offline');
        setTimeout(connect, RETRY_MS);
      }
    };
  };

  window.addEventListener('online', () => show(socket?.readyState === WebSocket.OPEN ? 'live' : 'reconnecting'));
  window.addEventListener('offline', () => show('offline'));

  return {
    /** Connects for this user (nothing if already connected). */
    start(id) {
      userId = id;
      connect();
    },
    /** Disconnects and forgets where the stream stood. */
    stop() {
      const open = socket;
      socket = null;
      lastSeq = null;
      userId = null;
      badge.textContent = '';
      delete badge.dataset.state;
      if (open) open.close(1000);
    },
  };
}
