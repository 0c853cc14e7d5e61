// Forms that say what is wrong beside the field at fault. Each field is a
// label holding its input and a message slot the input points to
// (aria-describedby); a refusal from the API is shown beside the field it
// names (the body's `field`, else the part of `error` before the first
// ": "), or at the top of the form when it names none of them.

import { fill, h } from './ui.js';

let serial = 0;

/**
 * A labelled field: `label` in words, `input` an input/select element whose
 * `name` is the API's field name (or `dataset.field`, when they differ).
 */
export function field(label, input, hint) {
  const id = `f${++serial}`;
  const msg = h('span', { class: 'field-error', id: `${id}-error`, role: 'alert' });
  input.id = input.id || id;
  input.setAttribute('aria-describedby', msg.id);
  return h('label', { class: 'field', dataset: { field: input.dataset.field || input.name } },
    h('span', {}, label), input, hint ? h('span', { class: 'muted hint' }, hint) : null, msg);
}

/** A group of checkboxes (or other inputs) for one field, named by a legend. */
export function group(legend, name, children) {
  const msg = h('span', { class: 'field-error', id: `f${++serial}-error`, role: 'alert' });
  return h('fieldset', { class: 'field', dataset: { field: name }, 'aria-describedby': msg.id },
    h('legend', {}, legend), children, msg);
}

/** A form with a message slot at its top for what no field explains. */
export function form(props, ...children) {
  const top = h('div', { class: 'form-error', role: 'alert' });
  return h('form', { novalidate: true, ...props }, top, ...children);
}

/** Clears every message in `f`. */
export function clear(f) {
  for (const el of f.querySelectorAll('.field-error, .form-error')) fill(el);
  for (const el of f.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  f.querySelector('.form-error')?.classList.remove('notice', 'bad');
}

/** The field a refusal names: `receivers[0]` is `receivers`. */
function named(err) {
  if (err.field) return err.field;
  const i = err.message.indexOf(': ');
  return i > 0 ? err.message.slice(0, i) : '';
}

/**
 * Shows `err` (an ApiError) beside the field it names when that field is
 * on the form and visible; else at the top. Focuses the field at fault.
 */
export function refuse(f, err) {
  clear(f);
  const path = named(err);
  const candidates = [path, path.replace(/\[\d+\]$/, ''), path.replace(/\[\d+\].*$/, '')];
  const slot = candidates.map((p) => p && f.querySelector(`.field[data-field="${CSS.escape(p)}"]`))
    .find((l) => l && !l.hidden && !l.closest('[hidden]'));
  if (!slot) {
    const top = f.querySelector('.form-error');
    top.classList.add('notice', 'bad');
    fill(top, err.message);
    return;
  }
  fill(slot.querySelector('.field-error'), err.message);
  const input = slot.matches('fieldset') ? slot : slot.querySelector('input, select, textarea');
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    (slot.querySelector('input, select, textarea') || input).focus();
  }
}
