// DOM helpers shared by the screens: element building (text only, never HTML), the page alert,
// notices, dialogs, forms with per-field errors, formatting, and the lifetime of a screen.

const SVG_NS = 'http://www.w3.org/2000/svg';

/**
 * Creates an HTML element. Attributes named `on<event>` add listeners; `true` gives an empty
 * attribute, and `false`, `null` and `undefined` leave it out. Children are nodes or text.
 */
export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** Creates an SVG element, like `h`. */
export function svg(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

function build(element, attrs, children) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on')) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  element.append(...nodes(children));
  return element;
}

/** Replaces the element's children; like `h`, it takes nested arrays and skips `false`/`null`. */
export function setChildren(element, ...children) {
  element.replaceChildren(...nodes(children));
}

function nodes(children) {
  return children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
}

/** Shows an error that belongs to no form field in the page's alert region. */
export function showAlert(message) {
  document.getElementById('alert').textContent = message;
}

export function clearAlert() {
  document.getElementById('alert').textContent = '';
}

/** A short notice that outlives a change of screen (e.g. "Tenant acme is being deleted"). */
export function notify(message) {
  const notice = h('p', { class: 'notice' }, message);
  document.getElementById('notices').append(notice);
  setTimeout(() => notice.remove(), 8000);
}

/**
 * Opens a modal dialog. The browser keeps focus inside it and closes it on Escape; on close
 * it is removed and focus returns to the element that opened it.
 */
export function openDialog(title, ...content) {
  const opener = document.activeElement;
  const heading = h('h2', { id: uniqueId('dialog-title') }, title);
  const dialog = h('dialog', { 'aria-labelledby': heading.id }, heading, ...content);
  dialog.addEventListener('close', () => {
    dialog.remove();
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

export function closeDialogs() {
  for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
}

/** A labelled form control with the element its errors are shown in (`data-field`). */
export function field(label, control, { errorsFor = control.name, hint } = {}) {
  control.id ||= uniqueId(`field-${control.name}`);
  const error = h('p', { class: 'field-error', 'data-field': errorsFor, id: `${control.id}-error` });
  const hintText = hint && h('p', { class: 'hint', id: `${control.id}-hint` }, hint);
  control.setAttribute('aria-describedby', [hintText?.id, error.id].filter(Boolean).join(' '));
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), hintText, control, error);
}

/** The row of a form's buttons, with its alert above them. */
export function formFooter(...buttons) {
  return [h('p', { class: 'form-alert', role: 'alert' }), h('div', { class: 'actions' }, ...buttons)];
}

/** Closes the dialog it is in. */
export function cancelButton() {
  return h('button', { type: 'button', class: 'secondary', onclick: (e) => e.target.closest('dialog').close() }, 'Cancel');
}

/**
 * Runs `action(formData)` on submit, with the submit button disabled meanwhile. A failure is
 * shown on the form: each field error next to its field, anything else in the form's alert.
 */
export function onSubmit(form, action) {
  form.noValidate = true;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const submit = form.querySelector('[type=submit]');
    clearFormErrors(form);
    submit.disabled = true;
    try {
      await action(new FormData(form));
    } catch (error) {
      showFormErrors(form, error);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function clearFormErrors(form) {
  for (const error of form.querySelectorAll('.field-error, .form-alert')) error.textContent = '';
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
}

/** Matches `limits.requests_per_second` exactly, else by its first segment (`limits`). */
function showFormErrors(form, error) {
  const unplaced = [];
  for (const { field: path, message } of error.fieldErrors ?? []) {
    const slot = errorSlot(form, path) ?? errorSlot(form, path.split(/[.[]/)[0]);
    if (!slot) {
      unplaced.push(`${path}: ${message}`);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
    form.querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`)?.setAttribute('aria-invalid', 'true');
  }
  const placed = (error.fieldErrors?.length ?? 0) > unplaced.length;
  const summary = placed ? 'Please correct the fields marked below.' : error.message;
  form.querySelector('.form-alert').textContent = [summary, ...unplaced].join(' ');
  form.querySelector('[aria-invalid]')?.focus();
}

function errorSlot(form, name) {
  return form.querySelector(`.field-error[data-field="${CSS.escape(name)}"]`);
}

/** A status (tenant status, move state) as a badge; its text is the status itself. */
export function badge(status, attrs = {}) {
  return h('span', { ...attrs, class: `badge badge-${status}` }, status);
}

const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

export function formatNumber(value) {
  return value === null || value === undefined ? '—' : numbers.format(value);
}

/** A timestamp as a `<time>` element in the reader's locale. */
export function time(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  return h('time', { datetime: iso, title: iso }, text);
}

/** A `<dl>` of [term, description] pairs. */
export function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.map(([term, description]) => [h('dt', {}, term), h('dd', {}, description)]));
}

/** A table that scrolls sideways on narrow screens; `rows` is an array of rows or a `<tbody>`. */
export function table(attrs, headings, rows) {
  const head = h('thead', {}, h('tr', {}, headings.map((text) => h('th', { scope: 'col' }, text))));
  const body = rows instanceof HTMLTableSectionElement ? rows : h('tbody', {}, rows);
  return h('div', { class: 'table-wrap' }, h('table', attrs, head, body));
}

export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

let idCounter = 0;

function uniqueId(prefix) {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * The lifetime of one screen: its readiness (`body[data-ready]`, which tests wait for), its
 * timers (stopped when the screen is left), and errors shown only while it is displayed.
 */
export class Screen {
  #timers = new Set();

  constructor(name) {
    this.name = name;
    this.active = true;
    document.body.dataset.ready = 'loading';
  }

  loading() {
    if (this.active) document.body.dataset.ready = 'loading';
  }

  ready() {
    if (this.active) document.body.dataset.ready = this.name;
  }

  /** Shows a failed load in the page alert; the screen has finished loading, with an error. */
  fail(error) {
    if (!this.active) return;
    showAlert(error.message);
    this.ready();
  }

  /** Runs `task` every `ms` milliseconds (counted from its end) until stopped or left. */
  repeat(ms, task) {
    let stopped = false;
    const tick = async () => {
      if (stopped || !this.active) return;
      try {
        await task();
      } catch (error) {
        this.fail(error);
      }
      if (!stopped) this.#later(ms, tick);
    };
    this.#later(ms, tick);
    return () => {
      stopped = true;
    };
  }

  leave() {
    this.active = false;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
  }

  #later(ms, fn) {
    if (!this.active) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }
}
