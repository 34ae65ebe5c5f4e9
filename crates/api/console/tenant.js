// One tenant's page: its details, its usage on this instance, charts of the last hour, and the
// actions (edit, suspend or resume, move to another cluster, delete).

import { FleetActivity } from './activity.js';
import { api, listClusters, tenantPath } from './api.js';
import { lineChart } from './charts.js';
import { onTenantField, readSettings, settingsFields } from './tenants.js';
import { badge, cancelButton, facts, field, formatNumber, formFooter, h, notify, onSubmit, openDialog, setChildren, table, time } from './ui.js';

const REFRESH_MS = 5000;
const MOVE_POLL_MS = 1000;


const MOVE_STATES = {
  copying: 'Copying the documents…',
  catching_up: 'Applying the changes made meanwhile…',
  cutting_over: 'Cutting over: the tenant’s writes wait briefly…',
  done: 'The tenant now serves from the new cluster.',
  failed: 'The tenant keeps serving from its old cluster; the move can be started again.',
};

export function renderTenant(main, screen, id) {
  let tenant = null;
  let changing = false; // a suspend or resume is under way
  const fleet = new FleetActivity();
  const title = h('h1', { tabindex: -1 }, id);
  const head = h('div', { class: 'page-head' }, title);
  const actions = h('div', { class: 'actions' });
  const move = h('section', { id: 'move-progress', class: 'panel', hidden: true });
  const details = section('Details');
  const usage = section('Usage on this instance');
  const activity = section('Activity in the last hour');
  const page = h('article', { id: 'tenant-page', 'data-tenant-id': id }, head, actions, move, details, usage, activity);
  setChildren(main, h('p', {}, h('a', { href: '#/tenants' }, '← All tenants')), page);
  load();

  async function load() {
    try {
      showTenant(await api.get(tenantPath(id)));
    } catch (error) {
      setChildren(page, title, h('p', {}, 'This tenant could not be loaded.'));
      return screen.fail(error);
    }
    let stats = null;
    try {
      stats = await refresh();
    } catch (error) {
      screen.fail(error);
    }
    screen.ready();
    screen.repeat(REFRESH_MS, refresh);
    // The current or last move, whoever started it (the console, the CLI, another operator).
    if (stats?.last_move) followMove(stats.last_move);
  }

  /**
   * Statistics and activity; the tenant itself too when its status changed meanwhile. Gives the
   * statistics (null when they could not be read).
   */
  async function refresh() {
    const [stats, samples] = await Promise.allSettled([
      api.get(tenantPath(id, '/stats')),
      api.get(tenantPath(id, '/activity')),
    ]);
    if (!screen.active) return;
    fill(usage, stats.status === 'fulfilled' ? usageView(stats.value) : problem(stats.reason));
    if (samples.status === 'fulfilled') fleet.add(samples.value);
    fill(activity, samples.status === 'fulfilled' ? activityCharts(fleet.merged()) : problem(samples.reason));
    if (stats.status !== 'fulfilled') return null;
    if (stats.value.status !== tenant.status) showTenant(await api.get(tenantPath(id)));
    return stats.value;
  }

  function showTenant(next) {
    tenant = next;
    title.textContent = tenant.name;
    setChildren(head, title, h('p', { class: 'subtitle' }, h('code', {}, tenant.id), ' ', badge(tenant.status, { id: 'tenant-status-value' })));
    const deleting = tenant.status === 'deleting';
    const buttons = [
      actionButton('tenant-edit', 'Edit', openEditDialog, { disabled: deleting }),
      tenant.status === 'active' && actionButton('tenant-suspend', 'Suspend', () => changeStatus('suspend')),
      tenant.status === 'suspended' && actionButton('tenant-resume', 'Resume', () => changeStatus('resume')),
      actionButton('tenant-move', 'Move to cluster…', openMoveDialog, { disabled: deleting }),
      actionButton('tenant-delete', 'Delete…', openDeleteDialog, { disabled: deleting, class: 'danger' }),
    ];
    setChildren(actions, buttons);
    fill(details, detailsView(tenant));
  }

  async function changeStatus(action) {
    if (changing) return; // a double click
    changing = true;
    try {
      showTenant(await api.post(tenantPath(id, `/${action}`)));
      notify(action === 'suspend' ? `${id} is suspended: its requests are refused.` : `${id} is active again.`);
      actions.querySelector('#tenant-suspend, #tenant-resume')?.focus();
    } catch (error) {
      screen.fail(error);
    } finally {
      changing = false;
    }
  }

  function openEditDialog() {
    const save = h('button', { id: 'tenant-edit-submit', type: 'submit' }, 'Save');
    const form = h('form', { id: 'tenant-edit-form' }, settingsFields(tenant), formFooter(save, cancelButton()));
    const dialog = openDialog(`Edit ${tenant.id}`, form);
    onSubmit(form, async (data) => {
      const patch = changedSettings(tenant, readSettings(data));
      if (Object.keys(patch).length > 0) {
        showTenant(await api.patch(tenantPath(id), patch).catch(onTenantField));
        notify(`${id} is saved.`);
      }
      dialog.close();
    });
  }

  async function openMoveDialog() {
    let clusters;
    try {
      clusters = (await listClusters()).filter((c) => c.name !== tenant.cluster);
    } catch (error) {
      return screen.fail(error);
    }
    const none = clusters.length === 0;
    const select = h('select', { id: 'move-cluster', name: 'cluster', disabled: none }, clusters.map((c) => h('option', { value: c.name }, c.name)));
    const submit = h('button', { id: 'move-submit', type: 'submit', disabled: none }, 'Start the move');
    const form = h(
      'form',
      { id: 'move-form' },
      h('p', {}, `${tenant.id} is on cluster ${tenant.cluster}. Its database is copied while it keeps serving; its writes wait briefly at the cut-over.`),
      field('Move to cluster', select, { hint: none ? 'No other cluster is configured.' : undefined }),
      formFooter(submit, cancelButton()),
    );
    const dialog = openDialog('Move to another cluster', form);
    onSubmit(form, async (data) => {
      const started = await api.post(tenantPath(id, '/move'), { cluster: data.get('cluster') });
      dialog.close();
      followMove(started);
    });
  }

  /** Shows the move and polls it until it is done or failed. */
  function followMove(started) {
    showMove(started);
    if (isFinished(started)) return;
    const stop = screen.repeat(MOVE_POLL_MS, async () => {
      const current = await api.get(tenantPath(id, '/move'));
      showMove(current);
      if (isFinished(current)) {
        stop();
        notify(`The move of ${id} to ${current.to}: ${current.state}.`);
        if (current.state === 'done') showTenant(await api.get(tenantPath(id)));
      }
    });
  }

  function showMove(progress) {
    move.hidden = false;
    move.dataset.state = progress.state;
    setChildren(
      move,
      h('h2', {}, `Move from ${progress.from} to ${progress.to}`),
      facts([
        ['State', [badge(progress.state), ' ', MOVE_STATES[progress.state] ?? '']],
        ['Documents copied', formatNumber(progress.documents_copied)],
        ['Started', time(progress.started_at)],
        progress.finished_at && ['Finished', time(progress.finished_at)],
        progress.write_pause_ms != null && ['Write pause', `${formatNumber(progress.write_pause_ms)} ms`],
        progress.attempts > 1 && ['Attempts', String(progress.attempts)],
        progress.error && ['Error', progress.error],
      ].filter(Boolean)),
    );
  }

  function openDeleteDialog() {
    const input = h('input', { id: 'delete-confirm-input', name: 'confirm', autocomplete: 'off', spellcheck: false });
    const submit = h('button', { id: 'delete-confirm-submit', type: 'submit', class: 'danger', disabled: true }, 'Delete the tenant');
    input.addEventListener('input', () => {
      submit.disabled = input.value !== tenant.id;
    });
    const form = h(
      'form',
      { id: 'delete-form' },
      h('p', {}, 'Its database is dropped with all its data. This cannot be undone.'),
      field(`Type ${tenant.id} to confirm`, input),
      formFooter(submit, cancelButton()),
    );
    const dialog = openDialog(`Delete ${tenant.id}?`, form);
    onSubmit(form, async (data) => {
      if (data.get('confirm') !== tenant.id) return;
      await api.delete(tenantPath(id));
      dialog.close();
      notify(`${id} is being deleted.`);
      location.hash = '#/tenants';
    });
  }
}

function isFinished(move) {
  return move.state === 'done' || move.state === 'failed';
}

function section(heading) {
  return h('section', {}, h('h2', {}, heading));
}

/** Replaces what follows the section's heading. */
function fill(target, content) {
  setChildren(target, target.firstChild, content);
}

function problem(error) {
  return h('p', { class: 'error' }, error.message);
}

function actionButton(id, label, onclick, { disabled = false, class: cls = 'secondary' } = {}) {
  return h('button', { id, type: 'button', class: cls, disabled, onclick }, label);
}

function detailsView(tenant) {
  const limit = (value) => (value === null || value === undefined ? 'platform default' : formatNumber(value));
  const { auth } = tenant;
  return facts([
    ['Status', tenant.status],
    ['Cluster', tenant.cluster],
    ['Database', h('code', {}, tenant.database)],
    ['Isolation', tenant.isolation],
    ['Incarnation', h('code', {}, tenant.incarnation)],
    ['Schema version', String(tenant.schema_version)],
    ['Plan', tenant.plan],
    ['Custom domains', tenant.domains.length ? tenant.domains.join(', ') : 'none'],
    ['Concurrent database operations', limit(tenant.limits.max_concurrent_requests)],
    ['Requests per second', limit(tenant.limits.requests_per_second)],
    ['Identity provider', auth ? `${auth.issuer} (audience ${auth.audience})` : 'none'],
    ['Created', time(tenant.created_at)],
    ['Updated', time(tenant.updated_at)],
  ]);
}

/** The settings of the edit form that differ from the tenant's: the PATCH body. */
function changedSettings(tenant, wanted) {
  const current = {
    name: tenant.name,
    plan: tenant.plan,
    domains: tenant.domains,
    limits: {
      max_concurrent_requests: tenant.limits.max_concurrent_requests ?? null,
      requests_per_second: tenant.limits.requests_per_second ?? null,
    },
    auth: tenant.auth ? { issuer: tenant.auth.issuer, audience: tenant.auth.audience } : null,
  };
  return Object.fromEntries(Object.entries(wanted).filter(([key, value]) => JSON.stringify(value) !== JSON.stringify(current[key])));
}

function usageView(stats) {
  const { budget, connections, projections } = stats;
  const pool = connections.cluster_pool ?? connections.dedicated_pools;
  const poolLabel = connections.kind === 'dedicated' ? 'Dedicated pools' : 'Cluster pool (shared)';
  const collections = Object.entries(stats.documents).sort(([a], [b]) => a.localeCompare(b));
  return [
    facts([
      ['Requests served', formatNumber(stats.requests)],
      ['Budget in use', `${formatNumber(budget.in_use)} of ${formatNumber(budget.limit)} concurrent operations`],
      [poolLabel, [
        h('meter', { min: 0, max: Math.max(pool.open, 1), value: pool.in_use, 'aria-label': `${poolLabel} in use` }),
        ` ${formatNumber(pool.in_use)} in use of ${formatNumber(pool.open)} open, ${formatNumber(pool.idle)} idle, ${formatNumber(pool.waiting)} waiting`,
      ]],
      ['Projections applied', `${formatNumber(projections.applied_position)} of ${formatNumber(projections.last_position)}`],
      ['Projection lag', `${formatNumber(projections.lag)} events`],
      ['Dead letters', formatNumber(projections.dead_letters)],
      ['Read-model generation', formatNumber(projections.generation)],
    ]),
    h('h3', {}, 'Documents'),
    table(
      { id: 'tenant-documents' },
      ['Collection', 'Documents'],
      collections.length
        ? collections.map(([name, count]) => h('tr', {}, h('td', {}, name), h('td', { class: 'number' }, formatNumber(count))))
        : [h('tr', {}, h('td', { colspan: 2, class: 'muted' }, 'No collections yet.'))],
    ),
  ];
}

/** Which instances the charts come from. */
function instancesNote({ instance_ids: ids, interval_secs: every }) {
  if (ids.length === 1) return `As instance ${ids[0]} saw it, sampled every ${every} s.`;
  return `As ${ids.length} instances saw it (${ids.join(', ')}), sampled every ${every} s; `
    + 'p99 is the largest of theirs.';
}

/** The four charts of the last hour, as the instances the page reached saw it. */
function activityCharts(activity) {
  const samples = activity.samples.map((sample) => ({ ...sample, t: Date.parse(sample.at) }));
  const to = Math.max(Date.now(), samples.at(-1)?.t ?? 0);
  const from = to - activity.window_secs * 1000;
  const shown = samples.filter((sample) => sample.t >= from);
  const series = (label, value) => ({
    label,
    points: shown.filter((s) => value(s) !== null && value(s) !== undefined).map((s) => [s.t, value(s)]),
  });
  const share = (count) => (s) => (s.requests > 0 ? (100 * count(s)) / s.requests : null);
  const axis = { from, to, gapMs: activity.interval_secs * 1500 };
  return [
    h('div', { class: 'charts' },
      lineChart({ ...axis, metric: 'requests', title: 'Requests per interval', format: formatNumber,
        series: [series('requests', (s) => s.requests)] }),
      lineChart({ ...axis, metric: 'errors', title: 'Error rate (% of requests)', format: (v) => `${formatNumber(v)} %`,
        series: [series('4xx', share((s) => s.client_errors)), series('5xx', share((s) => s.server_errors))] }),
      lineChart({ ...axis, metric: 'latency', title: 'Latency', format: (v) => `${formatNumber(v)} ms`,
        series: [series('p50', (s) => s.p50_ms), series('p99', (s) => s.p99_ms)] }),
      lineChart({ ...axis, metric: 'lag', title: 'Projection lag (events)', format: formatNumber,
        series: [series('events behind', (s) => s.projection_lag_events)] })),
    h('p', { class: 'muted', id: 'activity-instances' }, instancesNote(activity)),
  ];
}
