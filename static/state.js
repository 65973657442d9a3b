// What the page shows — the signed-in user, the view, the toolbar's filters
// and how many rows — and reading it from the API in one go.

import { api } from './api.js';
import { dateIn, queryOf, viewFromHash } from './views.js';

export const PAGE_SIZE = 100;

/** The views counted in the sidebar. */
export const COUNTED = ['inbox', 'today', 'upcoming', 'completed'];

export const state = {
  user: null,
  view: viewFromHash(location.hash),
  // The toolbar, on top of the view: '' leaves the view's own choice.
  filters: { search: '', priority: '', sort: '' },
  shown: PAGE_SIZE,
};

/** The user's time zone (the browser's until the account is read). */
export const timeZone = () => state.user?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone;

/** Shows another view from its first page, in its own order. */
export function setView(view) {
  state.view = view;
  state.shown = PAGE_SIZE;
  state.filters.sort = '';
}

// The view's query with the toolbar's search, priority and sort on top.
function listQuery(today) {
  const query = { ...queryOf(state.view, today), limit: String(state.shown) };
  const { search, priority, sort } = state.filters;
  if (search) query.search = search;
  if (priority) query.priority = priority;
  if (sort) [query.sort_by, query.sort_order] = sort.split(':');
  return new URLSearchParams(query);
}

const total = (query) => api('GET', `/api/v1/tasks?${new URLSearchParams(query)}`).then((page) => page.total);

/**
 * Reads what the page shows: the view's page (tasks, or the activity log),
 * the tags, and how many tasks each counted view holds. The view on screen,
 * when nothing filters it, gives its own count.
 */
export async function load() {
  const today = dateIn(new Date(), timeZone());
  const { kind } = state.view;
  const page = kind === 'activity'
    ? api('GET', `/api/v1/activity-logs?limit=${state.shown}`)
    : api('GET', `/api/v1/tasks?${listQuery(today)}`);
  const unfiltered = !state.filters.search && !state.filters.priority;
  const counts = Promise.all(COUNTED.map((counted) => (counted === kind && unfiltered
    ? page.then((p) => p.total)
    : total({ ...queryOf({ kind: counted }, today), limit: '1' }))));
  const [items, tags, totals] = await Promise.all([page, api('GET', '/api/v1/tags'), counts]);
  return { page: items, tags, counts: Object.fromEntries(COUNTED.map((k, i) => [k, totals[i]])) };
}
