// The login page: user name and password; the token goes to sessionStorage.
import { Api, ApiError } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { session } from '../session.js';

export function loginPage(main, { navigate, notice }) {
  const status = h('div', { class: 'status' }, notice ? errorBox(notice) : null);
  const user = h('input', { name: 'username', id: 'username', autocomplete: 'username', required: true, maxlength: 64 });
  const pass = h('input', { name: 'password', id: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 });
  const submit = h('button', { type: 'submit', id: 'login-submit' }, t('login.submit'));
  const form = h('form', { class: 'card login', onsubmit: async (e) => {
    e.preventDefault();
    submit.disabled = true;
    fill(status, t('login.busy'));
    try {
      const r = await Api.login(user.value.trim(), pass.value);
      session.save(r.token, r.username, r.role);
      navigate('/devices');
    } catch (err) {
      fill(status, errorBox(err instanceof ApiError ? apiMessage(err) : String(err)));
      submit.disabled = false;
    }
  } },
  h('h1', {}, t('login.title')),
  h('label', { for: 'username' }, t('login.username')), user,
  h('label', { for: 'password' }, t('login.password')), pass,
  submit, status);
  fill(main, form);
  user.focus();
}
