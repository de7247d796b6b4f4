// Operators and admins: which users see this device; bind and unbind.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';

export function bindingsSection(el, { id, detail }) {
  const list = h('ul', { class: 'bindings', id: 'bindings' });
  const status = h('div', { class: 'status' });
  const username = h('input', { id: 'bind-username', required: true, maxlength: 64, autocomplete: 'off' });
  const form = h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    const name = username.value.trim();
    try {
      await Api.bind(id, name);
      username.value = '';
      await reload(t('bind.done', { username: name }));
    } catch (err) {
      fill(status, errorBox(apiMessage(err)));
    }
  } }, h('label', { for: 'bind-username' }, t('bind.username')), username, h('button', { type: 'submit' }, t('bind.submit')));
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.bindings'))), list, form, status);
  let stopped = false;

  function show(users, message) {
    fill(list, users.length ? users.map((u) => h('li', {}, h('span', {}, u), h('button', { type: 'button', class: 'link danger', onclick: async () => {
      try {
        await Api.unbind(id, u);
        await reload(t('unbind.done', { username: u }));
      } catch (err) {
        fill(status, errorBox(apiMessage(err)));
      }
    } }, t('bind.remove')))) : h('li', { class: 'muted' }, t('bind.none')));
    fill(status, message ? h('span', { class: 'ok' }, message) : null);
  }

  async function reload(message) {
    const d = await Api.device(id);
    if (!stopped) show(d.users || [], message);
  }
  show(detail.users || []);
  return () => {
    stopped = true;
  };
}
