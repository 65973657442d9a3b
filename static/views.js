// The views of the task list — Inbox, Today, Upcoming, Completed and one per
// tag — as URL hashes and as list queries, and due dates in words. Pure
// functions of the view, the user's time zone and the current time.

export const UPCOMING_DAYS = 7;

/** The view a location hash names: `#/today`, `#/tag/work`, … (Inbox otherwise). */
export function viewFromHash(hash) {
  const [, kind, ...rest] = hash.replace(/^#/, '').split('/');
  if (kind === 'tag' && rest.length) return { kind: 'tag', tag: decodeURIComponent(rest.join('/')) };
  if (['today', 'upcoming', 'completed', 'activity'].includes(kind)) return { kind };
  return { kind: 'inbox' };
}

export function hashOf(view) {
  return view.kind === 'tag' ? `#/tag/${encodeURIComponent(view.tag)}` : `#/${view.kind}`;
}

export function titleOf(view) {
  return view.kind === 'tag'
    ? `#${view.tag}`
    : { inbox: 'Inbox', today: 'Today', upcoming: 'Upcoming', completed: 'Completed', activity: 'Activity' }[view.kind];
}

/** `YYYY-MM-DD` of an instant in a time zone. */
export function dateIn(instant, timeZone) {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    .format(instant);
}

/** A calendar date `days` after another (both `YYYY-MM-DD`). */
export function addDays(date, days) {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

function daysBetween(from, to) {
  const [a, b] = [from, to].map((d) => Date.parse(`${d}T00:00:00Z`));
  return Math.round((b - a) / 86_400_000);
}

/**
 * The list query of a view (before the toolbar's search, priority and
 * sort): Inbox every open task, Today the open ones due by the end of today
 * (overdue included), Upcoming those due in the next seven days, Completed
 * the done ones, a tag view the open ones carrying the tag.
 */
export function queryOf(view, today) {
  switch (view.kind) {
    case 'today':
      return { status: 'pending', due_date_end: today, sort_by: 'due_at', sort_order: 'asc' };
    case 'upcoming':
      return {
        status: 'pending', due_date_start: today, due_date_end: addDays(today, UPCOMING_DAYS - 1),
        sort_by: 'due_at', sort_order: 'asc',
      };
    case 'completed':
      return { status: 'completed', sort_by: 'updated_at', sort_order: 'desc' };
    case 'tag':
      return { status: 'pending', tags: view.tag, sort_by: 'created_at', sort_order: 'desc' };
    default:
      return { status: 'pending', sort_by: 'created_at', sort_order: 'desc' };
  }
}

const time = (instant, timeZone) => new Intl.DateTimeFormat('en-GB', {
  timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
}).format(instant);

/** "Mon 30 Nov" for a `YYYY-MM-DD` date. */
export function dayInWords(date) {
  return new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short' })
    .format(new Date(`${date}T12:00:00Z`));
}

/**
 * A due date as people say it, in the user's zone: "today 17:00",
 * "tomorrow 10:00", "Mon 30 Nov 10:00", "overdue 2 days"; a time of 23:59
 * (what a date alone is due at) is left out.
 */
export function dueInWords(iso, timeZone, now = new Date()) {
  const due = new Date(iso);
  const [day, today] = [dateIn(due, timeZone), dateIn(now, timeZone)];
  const clock = time(due, timeZone);
  const at = clock === '23:59' ? '' : ` ${clock}`;
  if (due < now) {
    const late = daysBetween(day, today);
    if (late === 0) return `overdue, today${at}`;
    return `overdue ${late} day${late === 1 ? '' : 's'}`;
  }
  const ahead = daysBetween(today, day);
  if (ahead === 0) return `today${at}`;
  if (ahead === 1) return `tomorrow${at}`;
  return `${dayInWords(day)}${at}`;
}

/** "Mon 23 Nov, 14:05" for an instant, in a time zone. */
export function momentInWords(iso, timeZone) {
  const at = new Date(iso);
  const part = (options) => new Intl.DateTimeFormat('en-GB', { timeZone, ...options }).format(at);
  return `${part({ weekday: 'short', day: 'numeric', month: 'short' })}, ${time(at, timeZone)}`;
}
