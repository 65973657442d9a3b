// Keyboard: `q` quick add, `/` search, `j`/`k` move through the tasks, `x`
// complete or reopen, `e` edit, `Delete` delete, `Esc` leave a field (the
// dialog closes itself). Letters are ignored while typing in a field.

/**
 * Wires the shortcuts over the task list. `focusQuickAdd` and `focusSearch`
 * move the focus; the returned `reselect()` restores the selection after the
 * list is drawn again, and `focusTask(id)` selects a task and focuses it.
 */
export function mountKeys({ list, focusQuickAdd, focusSearch }) {
  let selected = null;
  const rows = () => [...list.querySelectorAll('li.task')];

  const select = (row) => {
    selected = row ? row.dataset.id : null;
    for (const r of rows()) r.classList.toggle('selected', r === row);
    if (row) {
      row.querySelector('.task-title').focus();
      row.scrollIntoView({ block: 'nearest' });
    }
  };

  // The task acted on: the selected one, or the one holding the focus.
  const current = () => document.activeElement?.closest('li.task')
    || rows().find((r) => r.dataset.id === selected) || null;

  document.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (document.querySelector('dialog[open]')) return;
    const field = e.target.closest?.('input, textarea, select');
    if (field) {
      if (e.key === 'Escape') field.blur();
      return;
    }
    const row = current();
    const all = rows();
    const at = row ? all.indexOf(row) : -1;
    const act = (selector) => {
      if (!row) return;
      e.preventDefault();
      row.querySelector(selector).click();
    };
    switch (e.key) {
      case 'q':
        e.preventDefault();
        focusQuickAdd();
        break;
      case '/':
        e.preventDefault();
        focusSearch();
        break;
      case 'j':
        if (all.length) select(all[Math.min(at + 1, all.length - 1)]);
        break;
      case 'k':
        if (all.length) select(all[Math.max(at - 1, 0)]);
        break;
      case 'x':
        act('.task-toggle');
        break;
      case 'e':
        act('.task-title');
        break;
      case 'Delete':
        // The next task (or the one before) takes the selection.
        selected = (all[at + 1] || all[at - 1])?.dataset.id ?? null;
        act('.task-delete');
        break;
      default:
    }
  });

  return {
    focusTask(id) {
      const row = rows().find((r) => r.dataset.id === id);
      if (row) select(row);
    },
    reselect() {
      const row = rows().find((r) => r.dataset.id === selected);
      for (const r of rows()) r.classList.toggle('selected', r === row);
      if (row && !document.querySelector('dialog[open]') && !document.activeElement?.closest('input, textarea, select')) {
        row.querySelector('.task-title').focus({ preventScroll: true });
      }
    },
  };
}
