// Quick add: the main input. As the user types, the server reads the line
// (`POST …/tasks/quick-add` with `create: false`); the parts it understood
// are highlighted in place and the resulting task is described below the
// input before Enter creates it. Text in double quotes stays literal.

import { api } from './api.js';
import { momentInWords } from './views.js';

const READ_DELAY_MS = 120;
const PRIORITY_LABEL = { urgent: 'p1', high: 'p2', medium: 'p3', low: 'p4' };

// The line as text nodes with each recognised part in a <mark>. Spans count
// Unicode code points, as the API does, not UTF-16 units.
function highlighted(text, parts) {
  const chars = Array.from(text);
  const nodes = [];
  let at = 0;
  for (const part of parts) {
    if (part.start > at) nodes.push(document.createTextNode(chars.slice(at, part.start).join('')));
    const mark = document.createElement('mark');
    mark.className = `qa-part qa-${part.kind}`;
    mark.dataset.kind = part.kind;
    mark.title = part.meaning;
    mark.textContent = chars.slice(part.start, part.end).join('');
    nodes.push(mark);
    at = part.end;
  }
  // A trailing space keeps the overlay as wide as the input's text.
  nodes.push(document.createTextNode(`${chars.slice(at).join('')} `));
  return nodes;
}

// What the task will be: "meeting — Mon 23 Nov, 10:00 · every week · p2 · #work".
function described(parse, timeZone) {
  const meaning = (kind) => parse.parts.find((p) => p.kind === kind)?.meaning;
  const bits = [];
  if (parse.due_at) bits.push(momentInWords(parse.due_at, timeZone));
  if (parse.recurrence_pattern) {
    const rule = parse.parts.filter((p) => p.kind === 'recurrence').map((p) => p.meaning);
    bits.push(rule.join(', ') || parse.recurrence_pattern);
  }
  if (parse.priority !== 'none') bits.push(PRIORITY_LABEL[parse.priority]);
  bits.push(...parse.tags.map((t) => `#${t}`));
  if (parse.reminder_offset_minutes != null) bits.push(`reminder ${meaning('reminder')}`);
  return bits;
}

/**
 * Wires the quick-add form. `timeZone()` gives the user's zone;
 * `onCreated(task)` runs after a task is created; `onError(err)` reports a
 * failure that is not about the text.
 */
export function mountQuickAdd({ form, input, overlay, preview, timeZone, onCreated, onError }) {
  let seq = 0;
  let timer = null;

  const paint = (parts) => {
    overlay.replaceChildren(...highlighted(input.value, parts));
    overlay.scrollLeft = input.scrollLeft;
  };

  const show = (parse, error) => {
    preview.classList.toggle('qa-error', Boolean(error));
    // The refusal is the input's own error (the preview describes it).
    if (error) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
    if (error) {
      preview.textContent = error;
      return;
    }
    if (!parse) {
      preview.textContent = '';
      return;
    }
    const title = document.createElement('strong');
    title.textContent = parse.title;
    const rest = described(parse, timeZone());
    preview.replaceChildren(title, ...(rest.length ? [` — ${rest.join(' · ')}`] : []));
    for (const note of parse.notes) {
      const line = document.createElement('span');
      line.className = 'qa-note';
      line.textContent = `Not used: ${note}`;
      preview.append(line);
    }
  };

  // Why the server refused the text, in its words for the field.
  const refusal = (err) => (err.details && err.details.text) || err.message;

  const read = async () => {
    const mine = ++seq;
    const text = input.value;
    if (!text.trim()) {
      paint([]);
      show(null);
      return;
    }
    try {
      const { parse } = await api('POST', '/api/v1/tasks/quick-add', { text, create: false });
      if (mine !== seq || text !== input.value) return;
      paint(parse.parts);
      show(parse);
    } catch (err) {
      if (mine !== seq) return;
      paint([]);
      if (err.status === 422) show(null, refusal(err));
      else show(null);
    }
  };

  input.addEventListener('input', () => {
    paint([]);
    clearTimeout(timer);
    timer = setTimeout(read, READ_DELAY_MS);
  });
  input.addEventListener('scroll', () => { overlay.scrollLeft = input.scrollLeft; });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearTimeout(timer);
    const text = input.value;
    if (!text.trim()) return;
    seq += 1;
    try {
      const { task } = await api('POST', '/api/v1/tasks/quick-add', { text, create: true });
      input.value = '';
      paint([]);
      show(null);
      input.focus();
      await onCreated(task);
    } catch (err) {
      if (err.status === 422) show(null, refusal(err));
      else onError(err);
    }
  });
}
