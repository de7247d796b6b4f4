// A device's billing settings (GET/PUT …/billing): the low-balance warning, the balance at
// which the supply is cut off, whether the device is protected from automatic cut-off and,
// where the server has them, the times a due cut-off waits (hours of the day, weekends,
// holidays). Operators and admins edit them in a form checked here before it is sent; users
// see them read-only.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { money, validYuan } from '../format.js';

const HOURS = /^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/;
const FLAGS = ['protected', 'no_cutoff_weekends', 'no_cutoff_holidays'];

export function billingSettingsSection(el, { id, staff, bus }) {
  const body = h('div', { id: 'billing' });
  const status = h('div', { class: 'status', id: 'billing-status' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.billing'))), status, body);
  let stopped = false;

  // The settings as a list (users, and above the form for staff).
  function summary(s) {
    const rows = [
      ['low_balance', `¥${money(s.low_balance)}`], ['cutoff_at', `¥${money(s.cutoff_at)}`],
      ['protected', t(s.protected ? 'yes' : 'no')],
    ];
    if ('no_cutoff_hours' in s) rows.push(['no_cutoff_hours', s.no_cutoff_hours || t('billing.none')]);
    for (const k of ['no_cutoff_weekends', 'no_cutoff_holidays']) if (k in s) rows.push([k, t(s[k] ? 'yes' : 'no')]);
    return h('dl', { class: 'settings' }, rows.map(([k, v]) => h('div', {}, h('dt', {}, t(`billing.${k}`)), h('dd', { dataset: { key: k } }, v))));
  }

  function form(s) {
    const input = (k, attrs) => h('input', { id: `billing-${k}`, name: k, ...attrs });
    const low = input('low_balance', { inputmode: 'decimal', value: money(s.low_balance) });
    const cut = input('cutoff_at', { inputmode: 'decimal', value: money(s.cutoff_at) });
    const hours = 'no_cutoff_hours' in s && input('no_cutoff_hours', { value: s.no_cutoff_hours || '', placeholder: '22:00-08:00', maxlength: 11 });
    const boxes = FLAGS.filter((k) => k in s).map((k) => input(k, { type: 'checkbox', checked: Boolean(s[k]) }));
    const result = h('div', { class: 'status', id: 'billing-result' });
    const field = (k, el) => h('div', { class: 'field' }, h('label', { for: `billing-${k}` }, t(`billing.${k}`)), el,
      h('span', { class: 'field-error', id: `billing-${k}-error`, role: 'alert' }));
    const fields = [field('low_balance', low), field('cutoff_at', cut), hours && field('no_cutoff_hours', hours)].filter(Boolean);
    const f = h('form', { class: 'stack billing-form', id: 'billing-form', novalidate: true, onsubmit: async (e) => {
      e.preventDefault();
      fill(result);
      // Checked here first: each bad field says what it wants, and nothing is sent.
      const problems = {
        low_balance: !validYuan(low.value.trim()) && t('billing.bad_yuan'),
        cutoff_at: !validYuan(cut.value.trim(), true) && t('billing.bad_yuan_signed'),
        no_cutoff_hours: hours && hours.value.trim() && !HOURS.test(hours.value.trim()) && t('billing.bad_hours'),
      };
      let bad = false;
      for (const [k, msg] of Object.entries(problems)) {
        const slot = f.querySelector(`#billing-${k}-error`);
        if (slot) fill(slot, msg || '');
        f.querySelector(`#billing-${k}`)?.setAttribute('aria-invalid', msg ? 'true' : 'false');
        bad ||= Boolean(msg);
      }
      if (bad) return;
      const body = { low_balance: low.value.trim(), cutoff_at: cut.value.trim() };
      if (hours) body.no_cutoff_hours = hours.value.trim();
      for (const b of boxes) body[b.name] = b.checked;
      try {
        const saved = await Api.setBilling(id, body);
        if (stopped) return;
        show(saved);
        bus.dispatchEvent(new Event('billing'));
        fill(el.querySelector('#billing-result'), h('span', { class: 'ok' }, t('billing.saved')));
      } catch (err) {
        fill(result, errorBox(apiMessage(err)));
      }
    } },
    fields, boxes.map((b) => h('label', { class: 'check', for: b.id }, b, ' ', t(`billing.${b.name}`))),
    h('button', { type: 'submit', id: 'billing-submit' }, t('billing.save')), result);
    return f;
  }

  function show(s) {
    fill(body, summary(s), staff && form(s));
  }

  Api.billing(id).then((s) => { if (!stopped) show(s); })
    .catch((err) => { if (!stopped) fill(status, errorBox(apiMessage(err))); });
  return () => {
    stopped = true;
  };
}
