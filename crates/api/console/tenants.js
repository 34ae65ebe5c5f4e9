// The tenants screen: search, status filter, a paged table, and the form creating a tenant.
// Also the settings fields (name, plan, domains, limits, identity provider) the edit form reuses.

import { api, listClusters } from './api.js';
import { badge, cancelButton, debounce, field, formFooter, h, onSubmit, openDialog, setChildren, table, time } from './ui.js';

export const STATUSES = ['provisioning', 'active', 'suspended', 'deleting'];
const PAGE_SIZE = 50;

/** The filters, kept while the console is open so that coming back to the list keeps them. */
const filters = { q: '', status: '' };

export function renderTenants(main, screen) {
  let cursors = [null]; // the cursor of every page up to the shown one (the first has none)
  let nextCursor = null;
  let latest = 0; // the newest load; older answers are dropped

  const search = h('input', { id: 'tenant-search', name: 'q', type: 'search', value: filters.q, autocomplete: 'off' });
  const status = h(
    'select',
    { id: 'tenant-status', name: 'status' },
    h('option', { value: '' }, 'All'),
    STATUSES.map((s) => h('option', { value: s, selected: s === filters.status }, s)),
  );
  const rows = h('tbody');
  const prev = h('button', { id: 'tenants-prev', type: 'button', class: 'secondary', disabled: true }, 'Previous');
  const next = h('button', { id: 'tenants-next', type: 'button', class: 'secondary', disabled: true }, 'Next');
  const pageLabel = h('span', { class: 'muted', 'aria-live': 'polite' });

  const restart = () => {
    cursors = [null];
    load();
  };
  const onSearch = debounce(() => {
    if (search.value.trim() === filters.q) return;
    filters.q = search.value.trim();
    restart();
  }, 250);
  search.addEventListener('input', onSearch);
  search.addEventListener('change', onSearch); // also when cleared by script
  status.addEventListener('change', () => {
    filters.status = status.value;
    restart();
  });
  prev.addEventListener('click', () => {
    if (cursors.length === 1) return;
    cursors.pop();
    load();
  });
  next.addEventListener('click', () => {
    if (nextCursor === null) return;
    cursors.push(nextCursor);
    nextCursor = null; // once, however often it is clicked
    load();
  });

  setChildren(
    main,
    h('div', { class: 'page-head' },
      h('h1', { tabindex: -1 }, 'Tenants'),
      h('button', { id: 'tenant-new', type: 'button', onclick: () => openCreateDialog(screen) }, 'New tenant')),
    h('div', { class: 'filters' },
      field('Search by id or name', search, { errorsFor: 'q' }),
      field('Status', status)),
    table({ id: 'tenants-table' }, ['Id', 'Name', 'Status', 'Plan', 'Cluster', 'Schema', 'Created'], rows),
    h('div', { class: 'pager' }, prev, pageLabel, next),
  );
  load();

  async function load() {
    if (!screen.active) return;
    const ticket = ++latest;
    screen.loading();
    try {
      const page = await api.get('/admin/tenants', { q: filters.q, status: filters.status, limit: PAGE_SIZE, cursor: cursors.at(-1) });
      if (ticket !== latest || !screen.active) return;
      setChildren(rows, page.items.length ? page.items.map(tenantRow) : emptyRow());
      nextCursor = page.next_cursor ?? null;
      prev.disabled = cursors.length === 1;
      next.disabled = nextCursor === null;
      pageLabel.textContent = `Page ${cursors.length}`;
      screen.ready();
    } catch (error) {
      if (ticket === latest) screen.fail(error);
    }
  }
}

function tenantRow(tenant) {
  return h(
    'tr',
    { 'data-tenant-id': tenant.id },
    h('td', {}, h('a', { href: `#/tenants/${encodeURIComponent(tenant.id)}` }, tenant.id)),
    h('td', {}, tenant.name),
    h('td', {}, badge(tenant.status)),
    h('td', {}, tenant.plan),
    h('td', {}, tenant.cluster),
    h('td', { class: 'number' }, String(tenant.schema_version)),
    h('td', {}, time(tenant.created_at)),
  );
}

function emptyRow() {
  const text = filters.q || filters.status ? 'No tenant matches these filters.' : 'There are no tenants yet.';
  return h('tr', {}, h('td', { colspan: 7, class: 'muted' }, text));
}

async function openCreateDialog(screen) {
  let clusters;
  try {
    clusters = await listClusters();
  } catch {
    clusters = []; // the server places the tenant on its default cluster
  }
  if (!screen.active) return;
  const form = h(
    'form',
    { id: 'tenant-form' },
    field('Id', h('input', { name: 'id', required: true, autocomplete: 'off', autocapitalize: 'off', spellcheck: false }), {
      hint: '3 to 32 lower-case letters, digits and dashes; it cannot be changed later.',
    }),
    settingsFields(null),
    field('Cluster', clusterSelect(clusters)),
    field('Isolation', h('select', { name: 'isolation' },
      h('option', { value: 'shared' }, 'shared: uses its cluster’s connection pool'),
      h('option', { value: 'dedicated' }, 'dedicated: gets a pool of its own'))),
    formFooter(h('button', { id: 'tenant-form-submit', type: 'submit' }, 'Create tenant'), cancelButton()),
  );
  const dialog = openDialog('New tenant', form);
  onSubmit(form, async (data) => {
    const settings = readSettings(data);
    const body = withoutEmpty({ id: data.get('id').trim(), ...settings, cluster: data.get('cluster'), isolation: data.get('isolation') });
    const tenant = await api.post('/admin/tenants', body).catch(onTenantField);
    dialog.close();
    location.hash = `#/tenants/${encodeURIComponent(tenant.id)}`;
  });
}

function clusterSelect(clusters) {
  if (clusters.length === 0) return h('select', { name: 'cluster' }, h('option', { value: '' }, 'The default cluster'));
  return h(
    'select',
    { name: 'cluster' },
    clusters.map((c) => h('option', { value: c.name, selected: c.default }, c.default ? `${c.name} (default)` : c.name)),
  );
}

/**
 * The fields of a tenant's settings, filled from `tenant` (null: empty, for a new tenant, which
 * gets the platform's default limits: they are set on its page once it exists).
 */
export function settingsFields(tenant) {
  const input = (name, value, attrs = {}) => h('input', { name, value: value ?? '', autocomplete: 'off', ...attrs });
  const limit = (name, value) => input(name, value, { type: 'number', min: 1, step: 1, inputmode: 'numeric' });
  return [
    field('Name', input('name', tenant?.name, { required: true, maxlength: 200 })),
    field('Plan', input('plan', tenant?.plan, { placeholder: tenant ? '' : 'free' })),
    field('Custom domains', input('domains', tenant?.domains.join(', ')), { hint: 'Comma-separated, e.g. shop.acme.com, acme.example.org' }),
    tenant && h('fieldset', {},
      h('legend', {}, 'Limits (empty: the platform default)'),
      field('Concurrent database operations', limit('max_concurrent_requests', tenant?.limits.max_concurrent_requests), {
        errorsFor: 'limits.max_concurrent_requests',
      }),
      field('Requests per second', limit('requests_per_second', tenant?.limits.requests_per_second), {
        errorsFor: 'limits.requests_per_second',
      }),
      h('p', { class: 'field-error', 'data-field': 'limits' })),
    h('fieldset', {},
      h('legend', {}, 'Own identity provider (optional)'),
      field('Issuer URL', input('issuer', tenant?.auth?.issuer, { type: 'url', placeholder: 'https://login.example.com' }), {
        errorsFor: 'auth.issuer',
      }),
      field('Audience', input('audience', tenant?.auth?.audience), { errorsFor: 'auth.audience' }),
      h('p', { class: 'field-error', 'data-field': 'auth' })),
  ];
}

/** The settings as the API takes them; `auth` is null and `limits` are nulls when left empty
 * (`limits` is null on the create form, which has none). */
export function readSettings(data) {
  const text = (name) => data.get(name).trim();
  const number = (name) => (text(name) === '' ? null : Number(text(name)));
  const issuer = text('issuer');
  const audience = text('audience');
  return {
    name: text('name'),
    plan: text('plan'),
    domains: text('domains').split(/[\s,]+/).filter(Boolean),
    limits: data.has('requests_per_second')
      ? { max_concurrent_requests: number('max_concurrent_requests'), requests_per_second: number('requests_per_second') }
      : null,
    auth: issuer || audience ? { issuer, audience } : null,
  };
}

/** The field the problems that come without `errors` are about, e.g. 409 `domain_taken`. */
const FIELD_OF_PROBLEM = { invalid_tenant_id: 'id', tenant_exists: 'id', domain_taken: 'domains', issuer_taken: 'auth.issuer' };

/** Rethrows `error`, shown next to the field it is about (`.catch(onTenantField)`). */
export function onTenantField(error) {
  const path = FIELD_OF_PROBLEM[error.code];
  if (path && error.fieldErrors?.length === 0) error.fieldErrors = [{ field: path, message: error.message }];
  throw error;
}

/** Leaves out what the user did not fill in, so the server applies its defaults. */
function withoutEmpty(body) {
  const empty = (value) =>
    value === '' || value === null || (Array.isArray(value) && value.length === 0) ||
    (typeof value === 'object' && Object.values(value).every((v) => v === null));
  return Object.fromEntries(Object.entries(body).filter(([, value]) => !empty(value)));
}
