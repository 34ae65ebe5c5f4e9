// The operations screens: schema migrations (what is pending, running them with live progress,
// the report) and the live server instances.

import { api } from './api.js';
import { badge, formatNumber, h, notify, setChildren, table, time } from './ui.js';

const PROGRESS_POLL_MS = 1000;
const INSTANCES_REFRESH_MS = 5000;
const OWNED_TENANTS_SHOWN = 5;

export function renderMigrations(main, screen) {
  let status = null;
  const pendingCount = h('strong', { id: 'migrations-pending' }, '…');
  const summary = h('span');
  const run = h('button', { id: 'migrations-run', type: 'button' }, 'Run all pending migrations');
  const progress = h('div', { id: 'migrations-progress', class: 'panel', 'aria-live': 'polite', hidden: true });
  const pending = h('div');
  run.addEventListener('click', runAll);
  setChildren(
    main,
    h('div', { class: 'page-head' }, h('h1', { tabindex: -1 }, 'Migrations'), run),
    h('p', {}, pendingCount, summary),
    progress,
    pending,
  );
  load();

  async function load() {
    try {
      show(await api.get('/admin/migrations'));
      screen.ready();
    } catch (error) {
      screen.fail(error);
    }
  }

  function show(next) {
    status = next;
    pendingCount.textContent = String(status.pending_count);
    summary.textContent = ` of ${formatNumber(status.tenants)} tenants are behind schema version ${status.target_version}.`;
    setChildren(pending, pendingTable(status));
  }

  /** Posts the run and, while it runs, polls what is still pending to show the progress. */
  async function runAll() {
    const behind = status?.pending_count ?? 0;
    const bar = h('progress', { max: Math.max(behind, 1), value: 0 });
    const text = h('p', {}, 'Migrating…');
    let running = true;
    run.disabled = true;
    screen.loading();
    progress.hidden = false;
    setChildren(progress, h('label', {}, 'Progress ', bar), text);
    const stop = screen.repeat(PROGRESS_POLL_MS, async () => {
      const now = await api.get('/admin/migrations');
      if (!running) return;
      const done = Math.max(0, behind - now.pending_count);
      bar.value = done;
      text.textContent = `${formatNumber(done)} of ${formatNumber(behind)} tenants migrated…`;
    });
    try {
      const report = await api.post('/admin/migrations');
      if (!screen.active) return notify(`Migrations finished: ${report.succeeded} succeeded, ${report.failed} failed.`);
      setChildren(progress, reportView(report));
      await load();
    } catch (error) {
      progress.hidden = true;
      screen.fail(error);
    } finally {
      running = false;
      stop();
      run.disabled = false;
    }
  }
}

function pendingTable(status) {
  if (status.pending_count === 0) return h('p', { class: 'muted' }, `Every tenant is at schema version ${status.target_version}.`);
  const rows = status.pending.map((tenant) =>
    h('tr', { 'data-tenant-id': tenant.tenant_id },
      h('td', {}, h('a', { href: `#/tenants/${encodeURIComponent(tenant.tenant_id)}` }, tenant.tenant_id)),
      h('td', { class: 'number' }, String(tenant.schema_version)),
      h('td', {}, badge(tenant.status))),
  );
  const shown = status.pending.length < status.pending_count ? `The first ${status.pending.length}, by id:` : 'By id:';
  return [h('h2', {}, 'Tenants behind'), h('p', { class: 'muted' }, shown), table({ id: 'migrations-pending-table' }, ['Tenant', 'Schema version', 'Status'], rows)];
}

function reportView(report) {
  const failures = report.results.filter((result) => !result.ok || result.error);
  return [
    h('p', { class: failures.length ? 'error' : '' },
      `Done: ${formatNumber(report.tenants)} tenants, ${formatNumber(report.succeeded)} succeeded, ${formatNumber(report.failed)} failed.`),
    failures.length > 0 && table(
      { id: 'migrations-failures' },
      ['Tenant', 'From', 'To', 'Error'],
      failures.map((result) =>
        h('tr', { 'data-tenant-id': result.tenant_id },
          h('td', {}, result.tenant_id),
          h('td', { class: 'number' }, String(result.from_version)),
          h('td', { class: 'number' }, String(result.to_version)),
          h('td', {}, result.error ?? 'failed'))),
    ),
  ];
}

export function renderInstances(main, screen) {
  const summary = h('p', { class: 'muted' });
  const rows = h('tbody');
  setChildren(
    main,
    h('h1', { tabindex: -1 }, 'Instances'),
    summary,
    table({ id: 'instances-table' }, ['Instance', 'Version', 'Host', 'Started', 'Last heartbeat', 'Projector', 'Partitions', 'Tenants owned'], rows),
  );
  load().then(() => screen.ready());
  screen.repeat(INSTANCES_REFRESH_MS, load);

  async function load() {
    try {
      const list = await api.get('/admin/instances');
      if (!screen.active) return;
      summary.textContent = list.leases
        ? `Projection work is shared by leases of ${list.lease_secs} s. This page is served by instance ${list.this_instance}.`
        : `Projection work is not shared (no leases). This page is served by instance ${list.this_instance}.`;
      setChildren(rows, list.items.map((instance) => instanceRow(instance, instance.id === list.this_instance)));
    } catch (error) {
      screen.fail(error);
    }
  }
}

function instanceRow(instance, isThis) {
  return h(
    'tr',
    { 'data-instance-id': instance.id, class: isThis ? 'current' : null, 'aria-current': isThis ? 'true' : null },
    h('td', {}, h('code', {}, instance.id), isThis && [' ', h('span', { class: 'badge badge-this' }, 'this instance')]),
    h('td', {}, instance.version),
    h('td', {}, `${instance.host} (pid ${instance.pid})`),
    h('td', {}, time(instance.started_at)),
    h('td', {}, time(instance.last_heartbeat)),
    h('td', {}, instance.projects ? 'yes' : 'no'),
    h('td', {}, ranges(instance.partitions)),
    h('td', {}, ownedTenants(instance.tenants)),
  );
}

/** `[0, 1, 2, 5]` as `0–2, 5`. */
function ranges(numbers) {
  if (numbers.length === 0) return 'none';
  const sorted = [...numbers].sort((a, b) => a - b);
  const parts = [];
  let start = sorted[0];
  sorted.forEach((n, i) => {
    if (sorted[i + 1] === n + 1) return;
    parts.push(start === n ? String(n) : `${start}–${n}`);
    start = sorted[i + 1];
  });
  return parts.join(', ');
}

function ownedTenants(ids) {
  if (ids.length === 0) return 'none';
  const more = ids.length > OWNED_TENANTS_SHOWN ? ` and ${ids.length - OWNED_TENANTS_SHOWN} more` : '';
  return `${ids.length}: ${ids.slice(0, OWNED_TENANTS_SHOWN).join(', ')}${more}`;
}
