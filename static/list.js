// Drawing the page from what `state.load()` read: the task list (grouped by
// day in Upcoming), the activity log, and the sidebar's views and tags.

import { $, el, formatMoment } from './dom.js';
import { COUNTED, state, timeZone } from './state.js';
import { dateIn, dayInWords, dueInWords, hashOf, momentInWords, titleOf } from './views.js';

const EMPTY = {
  inbox: 'Nothing to do. Add a task above — try "Call mom tomorrow 5pm".',
  today: 'Nothing due today.',
  upcoming: 'Nothing due in the next seven days.',
  completed: 'No completed tasks yet.',
  tag: 'No open tasks with this tag.',
};

const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Draws the view and the sidebar; tasks in `hidden` (being deleted) are left out. */
export function draw({ page, tags, counts }, hidden) {
  const activity = state.view.kind === 'activity';
  $('#view-title').textContent = titleOf(state.view);
  $('.toolbar').hidden = activity;
  if (activity) drawActivity(page);
  else drawTasks(page, hidden);
  drawSidebar(tags, counts);
}

// The user's activity log, newest first: what changed, by any client.
function drawActivity(page) {
  $('#task-list').replaceChildren(...page.items.map((entry) => el('li', { class: 'activity' },
    el('span', { class: 'activity-summary', text: entry.summary }),
    el('time', { class: 'muted', datetime: entry.time, text: momentInWords(entry.time, timeZone()) }))));
  $('#task-count').textContent = plural(page.total, 'change');
  $('#show-more').hidden = page.items.length >= page.total;
  $('#task-empty').hidden = page.items.length !== 0;
  $('#task-empty').textContent = 'Nothing has happened yet.';
  $('#clear-completed').hidden = true;
}

function drawTasks(page, hidden) {
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
    rows.push(taskRow(task));
  }
  $('#task-list').replaceChildren(...rows);
  const total = page.total - (page.items.length - visible.length);
  $('#task-count').textContent = page.items.length < page.total
    ? `Showing ${visible.length} of ${plural(total, 'task')}`
    : plural(total, 'task');
  $('#show-more').hidden = page.items.length >= page.total;
  $('#task-empty').hidden = visible.length !== 0;
  $('#task-empty').textContent = EMPTY[state.view.kind];
  $('#clear-completed').hidden = state.view.kind !== 'completed' || total === 0;
}

function taskRow(task) {
  const overdue = !task.completed && task.due_at && new Date(task.due_at) < new Date();
  const classes = ['task', task.completed && 'completed', overdue && 'overdue'].filter(Boolean);

  const meta = el('div', { class: 'task-meta' });
  if (task.priority && task.priority !== 'none') {
    meta.append(el('span', { class: `priority priority-${task.priority}`, text: task.priority }));
  }
  if (task.due_at) {
    meta.append(el('time', { class: 'task-due', datetime: task.due_at, title: formatMoment(task.due_at),
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
  if (minutes % 1440 === 0) return `${plural(minutes / 1440, 'day')} before`;
  if (minutes % 60 === 0) return `${minutes / 60} h before`;
  return `${minutes} min before`;
}

function drawSidebar(tags, counts) {
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
    ...COUNTED.map((kind) => link({ kind }, titleOf({ kind }), counts[kind])),
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
