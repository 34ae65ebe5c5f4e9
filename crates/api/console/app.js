// The console's entry point: the hash router, the sign-in screen and the navigation.

import { adminKey, api, whenUnauthorized } from './api.js';
import { renderInstances, renderMigrations } from './operations.js';
import { renderTenant } from './tenant.js';
import { renderTenants } from './tenants.js';
import { Screen, clearAlert, closeDialogs, field, formFooter, h, onSubmit, setChildren } from './ui.js';

/** Each route: its hash, the screen name (`body[data-ready]`), its nav section, its renderer. */
const ROUTES = [
  { path: /^#\/tenants$/, screen: 'tenants', section: '#/tenants', title: 'Tenants', render: renderTenants },
  { path: /^#\/tenants\/([a-z0-9-]+)$/, screen: 'tenant', section: '#/tenants', title: 'Tenant', render: renderTenant },
  { path: /^#\/migrations$/, screen: 'migrations', section: '#/migrations', title: 'Migrations', render: renderMigrations },
  { path: /^#\/instances$/, screen: 'instances', section: '#/instances', title: 'Instances', render: renderInstances },
];
const HOME = '#/tenants';

const main = document.getElementById('main');
const header = document.getElementById('header');
let current = null;

function leaveScreen() {
  current?.leave();
  closeDialogs();
  clearAlert();
}

function route({ focus = true } = {}) {
  leaveScreen();
  if (!adminKey.get()) return showSignIn();
  const match = ROUTES.map((r) => ({ ...r, params: r.path.exec(location.hash) })).find((r) => r.params);
  if (!match) return location.replace(HOME); // comes back through `hashchange`
  showNav(match.section);
  document.title = `${match.title} · Tenantry console`;
  current = new Screen(match.screen);
  match.render(main, current, ...match.params.slice(1));
  if (focus) main.querySelector('h1')?.focus();
}

function showNav(section) {
  header.hidden = false;
  for (const link of header.querySelectorAll('nav a')) {
    if (link.getAttribute('href') === section) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function showSignIn(message = '') {
  header.hidden = true;
  document.title = 'Sign in · Tenantry console';
  current = new Screen('signin');
  const key = h('input', { id: 'signin-key', name: 'key', type: 'password', autocomplete: 'current-password', required: true, spellcheck: false });
  const [alert, actions] = formFooter(h('button', { id: 'signin-submit', type: 'submit' }, 'Sign in'));
  alert.id = 'signin-error';
  alert.textContent = message;
  const form = h(
    'form',
    { class: 'signin panel' },
    h('h1', {}, 'Tenantry console'),
    h('p', {}, 'Sign in with the platform admin key. It is kept in this browser tab only, until you sign out or close the tab.'),
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'admin', hidden: true }), // for password managers
    field('Admin key', key),
    alert,
    actions,
  );
  onSubmit(form, async (data) => {
    const candidate = data.get('key').trim();
    if (!candidate) throw new Error('Enter the admin key.');
    try {
      await api.get('/admin/instances', undefined, { key: candidate });
    } catch (error) {
      throw error.status === 401 || error.status === 403 ? new Error('That admin key was refused.') : error;
    }
    adminKey.set(candidate);
    if (location.hash === HOME) route();
    else location.hash = HOME;
  });
  setChildren(main, form);
  key.focus();
  current.ready();
}

function signOut(message) {
  adminKey.clear();
  leaveScreen();
  showSignIn(message);
}

whenUnauthorized(() => {
  if (adminKey.get()) signOut('The admin key was refused; it may have been changed. Sign in again.');
});
document.getElementById('signout').addEventListener('click', () => signOut());
window.addEventListener('hashchange', () => route());
route({ focus: false });
