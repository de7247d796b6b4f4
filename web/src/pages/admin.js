// Operators and admins: the accounts (and creating one), adding a device (its secret is
// shown once), the ingest counters, the park's default tariff and its calendar.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime } from '../format.js';
import { session } from '../session.js';
import { tariffView } from '../sections/tariff.js';
import { calendarView } from '../sections/calendar.js';

export function adminPage(main) {
  const users = h('div', { class: 'table-wrap', id: 'users' });
  const usersStatus = h('div', { class: 'status' });
  const stats = h('div', { class: 'analysis', id: 'stats' });
  let stopped = false;

  async function loadUsers() {
    try {
      const r = await Api.users();
      if (stopped) return;
      fill(users, h('table', {},
        h('thead', {}, h('tr', {}, h('th', {}, t('login.username')), h('th', {}, t('admin.role')), h('th', {}, t('admin.created')))),
        h('tbody', {}, r.users.map((u) => h('tr', {}, h('td', {}, u.username), h('td', {}, t(`role.${u.role}`)), h('td', {}, dateTime(u.created_at)))))));
    } catch (err) {
      if (!stopped) fill(usersStatus, errorBox(apiMessage(err)));
    }
  }

  const newName = h('input', { id: 'new-username', required: true, maxlength: 64, autocomplete: 'off' });
  const newPass = h('input', { id: 'new-password', type: 'password', required: true, minlength: 8, autocomplete: 'new-password' });
  const roles = session.isAdmin() ? ['user', 'operator', 'admin'] : ['user'];
  const newRole = h('select', { id: 'new-role' }, roles.map((r) => h('option', { value: r }, t(`role.${r}`))));
  const userResult = h('div', { class: 'status' });
  const userForm = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await Api.createUser(newName.value.trim(), newPass.value, newRole.value);
      fill(userResult, h('span', { class: 'ok' }, t('admin.user_created', { username: r.username })));
      newName.value = newPass.value = '';
      loadUsers();
    } catch (err) {
      fill(userResult, errorBox(apiMessage(err)));
    }
  } },
  h('h3', {}, t('admin.new_user')),
  h('label', { for: 'new-username' }, t('login.username')), newName,
  h('label', { for: 'new-password' }, t('login.password')), newPass,
  h('label', { for: 'new-role' }, t('admin.role')), newRole,
  h('button', { type: 'submit' }, t('admin.create')), userResult);

  const devId = h('input', { id: 'new-device-id', required: true, maxlength: 64, pattern: '[A-Za-z0-9_.:\\-]+', autocomplete: 'off' });
  const owner = h('input', { id: 'new-device-owner', maxlength: 64, autocomplete: 'off' });
  const devResult = h('div', { class: 'status' });
  const devForm = h('form', { class: 'stack', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const r = await Api.createDevice(devId.value.trim(), owner.value.trim());
      fill(devResult, h('p', { class: 'ok' }, t('admin.device_created', { device_id: r.device_id })), h('code', { class: 'secret' }, r.secret));
      devId.value = owner.value = '';
    } catch (err) {
      fill(devResult, errorBox(apiMessage(err)));
    }
  } },
  h('h3', {}, t('admin.new_device')),
  h('label', { for: 'new-device-id' }, t('admin.device_id')), devId,
  h('label', { for: 'new-device-owner' }, t('admin.owner')), owner,
  h('button', { type: 'submit' }, t('admin.create')), devResult);

  const siteTariff = h('div');
  const calendar = h('div');
  fill(main, h('h1', {}, t('admin.title')),
    h('div', { class: 'columns' },
      h('section', { class: 'card' }, h('h2', {}, t('admin.users')), usersStatus, users),
      h('section', { class: 'card' }, userForm),
      h('section', { class: 'card' }, devForm),
      h('section', { class: 'card' }, h('h2', {}, t('admin.stats')), stats),
      h('section', { class: 'card', id: 'section-site-tariff' }, h('h2', {}, t('admin.site_tariff')), siteTariff),
      h('section', { class: 'card', id: 'section-calendar' }, h('h2', {}, t('admin.calendar')), calendar)));
  const cleanups = [
    tariffView(siteTariff, { prefix: 'site-tariff', staff: true, load: Api.siteTariff, save: Api.setSiteTariff }),
    calendarView(calendar),
  ];
  loadUsers();
  // The counters as "group.name" rows: mqtt.messages, http.uploads, uptime_s, ...
  Api.stats().then((s) => {
    if (stopped) return;
    const rows = [];
    for (const group of ['mqtt', 'http']) for (const [k, v] of Object.entries(s[group] || {})) rows.push([`${group}.${k}`, v]);
    rows.push(['uptime_s', s.uptime_s]);
    fill(stats, h('dl', {}, rows.map(([k, v]) => [h('dt', {}, k), h('dd', { dataset: { key: k } }, String(v))])));
  })
    .catch((err) => { if (!stopped) fill(stats, errorBox(apiMessage(err))); });
  return () => {
    stopped = true;
    for (const c of cleanups) c();
  };
}
