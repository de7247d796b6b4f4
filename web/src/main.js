// The dashboard's shell: the header (user, language switch, log out), the router (history
// API paths, which meter-server answers with index.html) and the page life cycle: each page
// gets a fresh container and returns a cleanup function that stops its timers and charts.
import { Api, setUnauthorizedHandler } from './api.js';
import { h, fill } from './dom.js';
import { currentLang, onLangChange, setLang, t } from './i18n.js';
import { session } from './session.js';
import { loginPage } from './pages/login.js';
import { devicesPage } from './pages/devices.js';
import { devicePage } from './pages/device.js';
import { adminPage } from './pages/admin.js';
import { alarmsPage } from './pages/alarms.js';

const root = document.getElementById('app');
let cleanup = null;
let notice = null; // a message for the next page (e.g. why we are back at login)

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  render();
}

function route(path) {
  if (path === '/login') return { page: loginPage };
  if (!session.token()) return { redirect: '/login' };
  if (path === '/' || path === '/devices') return { page: devicesPage };
  const m = path.match(/^\/devices\/([^/]+)$/);
  if (m) return { page: devicePage, params: { id: decodeURIComponent(m[1]) } };
  if (path === '/alarms') return { page: alarmsPage };
  if (path === '/admin' && session.isStaff()) return { page: adminPage };
  return { redirect: '/devices' };
}

// Logging out ends the account's tokens on the server too (POST /api/logout), then here; the
// page leaves at once whatever the server answers.
function logOut() {
  Api.logout().catch(() => {});
  session.clear();
  navigate('/login');
}

function header() {
  const user = session.user();
  return h('header', { class: 'topbar' },
    h('a', { href: '/devices', class: 'brand', 'data-link': true }, t('app.title')),
    h('nav', {},
      user && h('a', { href: '/devices', 'data-link': true }, t('nav.devices')),
      user && h('a', { href: '/alarms', 'data-link': true, id: 'nav-alarms' }, t('nav.alarms')),
      user && session.isStaff() && h('a', { href: '/admin', 'data-link': true, id: 'nav-admin' }, t('nav.admin')),
      user && h('span', { class: 'who' }, `${user.username} · ${t(`role.${user.role}`)}`),
      h('button', { type: 'button', class: 'link', id: 'lang-switch', onclick: () => setLang(currentLang() === 'zh' ? 'en' : 'zh') }, t('nav.lang')),
      user && h('button', { type: 'button', class: 'link', id: 'logout', onclick: logOut }, t('nav.logout')),
    ));
}

function render() {
  if (cleanup) cleanup();
  cleanup = null;
  const r = route(location.pathname);
  if (r.redirect) {
    history.replaceState(null, '', r.redirect);
    return render();
  }
  document.title = t('app.title');
  const main = h('main', { id: 'page' });
  fill(root, header(), main);
  const msg = notice;
  notice = null;
  cleanup = r.page(main, { params: r.params || {}, navigate, notice: msg }) || null;
}

// Same-origin links marked data-link change the page without reloading.
document.addEventListener('click', (e) => {
  const a = e.target.closest('a[data-link]');
  if (!a || e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', render);
onLangChange(render);
setUnauthorizedHandler(() => {
  session.clear();
  notice = t('login.expired');
  navigate('/login', { replace: true });
});
document.documentElement.lang = currentLang() === 'zh' ? 'zh-CN' : 'en';
render();
