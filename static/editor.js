// Editing a task: every field in a dialog, dates and times in the user's
// time zone. Saving sends only what changed (PATCH) with the version that
// was read (`If-Match`): a change made meanwhile elsewhere is shown as a
// conflict, never silently overwritten. Field errors appear by their field.

import { ApiError, session } from './api.js';
import { clearFields, markFields, refusal } from './messages.js';

const PRESETS = ['daily', 'weekdays', 'weekly', 'monthly', 'yearly'];

/** The UTC instant of a local date and time in a time zone. */
export function zonedInstant(date, time, timeZone) {
  const [y, mo, d] = date.split('-').map(Number);
  const [h, mi] = time.split(':').map(Number);
  const wanted = Date.UTC(y, mo - 1, d, h, mi);
  // The zone's offset at that moment, found by formatting a guess there.
  const offsetAt = (instant) => {
    const parts = Object.fromEntries(new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric',
    }).formatToParts(instant).map((p) => [p.type, p.value]));
    const local = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute);
    return local - Math.floor(instant / 60_000) * 60_000;
  };
  let instant = wanted - offsetAt(wanted);
  instant = wanted - offsetAt(instant);
  return new Date(instant);
}

/** A stored instant as the `date` and `time` inputs show it in a zone. */
export function localParts(iso, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
    timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit',
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

const $ = (id) => document.getElementById(id);

/** The form's fields as the task's JSON fields (an API body). */
function read(timeZone) {
  const date = $('edit-due-date').value;
  const time = $('edit-due-time').value || '23:59';
  const choice = $('edit-recurrence').value;
  const rule = choice === 'custom' ? $('edit-rule').value.trim() : choice;
  const end = $('edit-end-date').value;
  const reminder = $('edit-reminder').value;
  return {
    title: $('edit-title').value,
    description: $('edit-description').value || null,
    priority: $('edit-priority').value,
    due_at: date ? zonedInstant(date, time, timeZone).toISOString() : null,
    recurrence_pattern: rule || null,
    recurrence_mode: $('edit-mode').value,
    recurrence_end_date: rule && end ? end : null,
    reminder_offset_minutes: reminder === '' ? null : Number(reminder),
    tags: $('edit-tags').value.split(',').map((t) => t.trim()).filter(Boolean),
  };
}

function fill(task, timeZone) {
  $('edit-title').value = task.title;
  $('edit-description').value = task.description || '';
  $('edit-priority').value = task.priority;
  const due = task.due_at ? localParts(task.due_at, timeZone) : { date: '', time: '' };
  $('edit-due-date').value = due.date;
  $('edit-due-time').value = due.time === '23:59' ? '' : due.time;
  const rule = task.recurrence_pattern || '';
  const preset = rule === '' || PRESETS.includes(rule);
  $('edit-recurrence').value = preset ? rule : 'custom';
  $('edit-rule').value = preset ? '' : rule;
  $('edit-mode').value = task.recurrence_mode;
  $('edit-end-date').value = task.recurrence_end_date ? localParts(task.recurrence_end_date, timeZone).date : '';
  const reminder = task.reminder_offset_minutes;
  const select = $('edit-reminder');
  if (reminder != null && ![...select.options].some((o) => o.value === String(reminder))) {
    select.append(new Option(`${reminder} minutes before`, String(reminder)));
  }
  select.value = reminder == null ? '' : String(reminder);
  $('edit-tags').value = task.tags.join(', ');
  showRecurrence();
}

function showRecurrence() {
  const choice = $('edit-recurrence').value;
  $('edit-rule-row').hidden = choice !== 'custom';
  $('edit-repeat-rows').hidden = choice === '';
}

function clearErrors() {
  clearFields($('edit-form'));
  $('edit-problem').hidden = true;
}

// The API's field names, and the inputs that carry them.
const INPUT_OF = {
  title: 'edit-title', description: 'edit-description', priority: 'edit-priority',
  due_at: 'edit-due-date', recurrence_pattern: 'edit-rule', recurrence_mode: 'edit-mode',
  recurrence_end_date: 'edit-end-date', reminder_offset_minutes: 'edit-reminder', tags: 'edit-tags',
};

function showErrors(err) {
  const inputOf = (field) => (field === 'recurrence_pattern' && $('edit-recurrence').value !== 'custom'
    ? 'edit-recurrence' : INPUT_OF[field]);
  const unplaced = err.details ? Object.entries(markFields($('edit-form'), err.details, inputOf)) : [];
  if (unplaced.length || !err.details) {
    problem(refusal(err, unplaced));
  }
}

function problem(text, ...actions) {
  const box = $('edit-problem');
  box.replaceChildren(document.createTextNode(text), ...actions);
  box.hidden = false;
}

let current = null;

/**
 * Opens the editor on `task`. `save(id, body, version)` sends a PATCH and
 * resolves to the saved task; `reload(id)` reads the task again;
 * `returnFocus(task)` puts the focus back on the task in the list when the
 * dialog closes (see `close`).
 */
export function mountEditor({ timeZone, save, reload, onSaved, returnFocus }) {
  const dialog = $('edit-dialog');

  // Closing returns the focus to where the dialog was opened from. The
  // browser does that itself, unless that element is gone: the list is drawn
  // anew on every change, also while the dialog is open (a live event). The
  // focus would then stay on the closed dialog's field, so keys pressed next
  // would go there (and the shortcuts take them for typing) until the browser
  // drops the focus to the page's body. It goes back to the task instead.
  const close = () => {
    dialog.close();
    if (!dialog.contains(document.activeElement)) return;
    returnFocus(current.task);
    if (dialog.contains(document.activeElement)) document.activeElement.blur();
  };
  // Escape, too, closes through `close`.
  dialog.addEventListener('cancel', (e) => {
    e.preventDefault();
    close();
  });
  $('edit-recurrence').addEventListener('change', showRecurrence);
  $('edit-cancel').addEventListener('click', close);

  $('edit-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!current || !session.token) return;
    clearErrors();
    // Only what the user changed, compared with the form as it was filled.
    const body = Object.fromEntries(Object.entries(read(timeZone()))
      .filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(current.fields[key])));
    if (!Object.keys(body).length) {
      close();
      return;
    }
    try {
      const saved = await save(current.task.id, body, current.task.version);
      close();
      await onSaved(saved);
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      if (err.status === 412) {
        const newer = document.createElement('button');
        newer.type = 'button';
        newer.textContent = 'Show the newer version';
        newer.addEventListener('click', async () => {
          open(await reload(current.task.id));
        });
        problem('This task was changed elsewhere while you edited it; your changes were not saved. ', newer);
      } else if (err.status === 404) {
        problem('This task was deleted elsewhere.');
      } else {
        showErrors(err);
      }
    }
  });

  const open = (task) => {
    clearErrors();
    fill(task, timeZone());
    current = { task, fields: read(timeZone()) };
    if (!dialog.open) dialog.showModal();
    $('edit-title').focus();
  };
  return open;
}
