// The message line under the header: errors in words, short notes that go
// away by themselves, and an undo button.

import { $, el } from './dom.js';

const INFO_MS = 4000;

let timer = null;
// Whether the message shown is "cannot reach the server" (cleared once the
// live connection is back).
let unreachable = false;

export const isUnreachable = () => unreachable;

export function showMessage(text, kind = 'error') {
  const box = $('#message');
  clearTimeout(timer);
  box.className = kind;
  box.replaceChildren(document.createTextNode(text));
  box.hidden = false;
  if (kind === 'info') timer = setTimeout(clearMessage, INFO_MS);
}

export function showError(err) {
  // The session ended: the login form says so already.
  if (err.sessionEnded) return;
  // fetch() rejects with a TypeError when no answer came at all.
  if (err instanceof TypeError) {
    showMessage('Cannot reach the server; changes will show again once it is back.', 'error');
    unreachable = true;
    return;
  }
  showMessage(err.message || String(err), 'error');
  if (err.details && typeof err.details === 'object') {
    const list = el('ul', { class: 'details' });
    for (const [field, reason] of Object.entries(err.details)) {
      list.append(el('li', { text: `${field}: ${reason}` }));
    }
    if (list.childElementCount) $('#message').append(list);
  }
}

export function clearMessage() {
  unreachable = false;
  clearTimeout(timer);
  $('#message').hidden = true;
  $('#message').replaceChildren();
}

/** Runs a user action: clears the old message, reports any failure. */
export async function run(action) {
  clearMessage();
  try {
    await action();
  } catch (err) {
    showError(err);
  }
}

/** A note with an Undo button that runs `undo`. */
export function showUndo(text, undo) {
  showMessage(text, 'info');
  const button = el('button', { type: 'button', class: 'undo', text: 'Undo' });
  button.addEventListener('click', () => {
    clearMessage();
    run(undo);
  });
  $('#message').append(' ', button);
}

// ---------------------------------------------------------------- Field errors

/** Takes the marks `markFields` left in a form away. */
export function clearFields(form) {
  for (const note of form.querySelectorAll('.field-error, .form-error')) note.remove();
  for (const input of form.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-errormessage');
  }
}

/**
 * Shows each refused field's reason (`details`: the API's field → why) under
 * its input, marked `aria-invalid`, and focuses the first. `inputOf` maps a
 * field to its input's id (an object, or a function). Returns the details
 * no input takes.
 */
export function markFields(form, details, inputOf) {
  const idOf = typeof inputOf === 'function' ? inputOf : (field) => inputOf[field];
  const unplaced = {};
  let first = null;
  for (const [field, why] of Object.entries(details)) {
    const id = idOf(field);
    const input = id && form.querySelector(`#${id}`);
    if (!input) {
      unplaced[field] = why;
      continue;
    }
    const note = el('span', { class: 'field-error', id: `${input.id}-error`, text: why });
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', note.id);
    // Under the input, in its label; a group of choices (a fieldset) takes
    // it at its end.
    input.closest('label, fieldset').append(note);
    first ??= input;
  }
  first?.focus();
  return unplaced;
}

/** A refusal in words: its message, then the fields no input shows. */
export function refusal(err, unplaced = []) {
  return [err.message, ...unplaced.map(([field, why]) => `${field}: ${why}`)].join(' — ');
}

/**
 * `run` for a form: the API's field errors appear on their fields (see
 * `markFields`), any other refusal at the end of the form. Only "cannot
 * reach the server" goes to the message line.
 */
export async function submit(form, inputOf, action) {
  clearFields(form);
  clearMessage();
  try {
    await action();
  } catch (err) {
    if (err instanceof TypeError || err.sessionEnded) {
      showError(err);
      return;
    }
    const unplaced = Object.entries(err.details && typeof err.details === 'object'
      ? markFields(form, err.details, inputOf) : {});
    if (unplaced.length || !err.details) {
      form.append(el('p', { class: 'form-error', role: 'alert', text: refusal(err, unplaced) }));
    }
  }
}
