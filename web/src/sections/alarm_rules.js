// A device's alarm rules (GET/PUT /api/devices/:id/alarm-rules): every rule's limit, minimum
// duration, hysteresis and whether it is on, as in force for this device (site defaults, its
// metadata, its overrides). Operators and admins edit the overrides: an empty field keeps the
// default; every field is checked here first (alarmrules.js) and nothing is sent while one
// is wrong.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { num } from '../format.js';
import { digitsFor, kindText, severityBadge } from '../alarmview.js';
import { formOf, rulesBody } from '../alarmrules.js';

const FIELDS = ['limit', 'min_duration_s', 'hysteresis'];

export function alarmRulesSection(el, { id, staff }) {
  const body = h('div', { class: 'table-wrap', id: 'alarm-rules' });
  const result = h('div', { class: 'status', id: 'alarm-rules-result', 'aria-live': 'polite' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.alarm_rules'))), body, result);
  let stopped = false;

  function row(r) {
    const f = formOf(r);
    const limitText = r.limit === null || r.limit === undefined ? '—' : `${num(r.limit, digitsFor(r.unit))} ${r.unit || ''}`;
    const inForce = h('td', { dataset: { key: 'in_force' } },
      h('span', { class: `badge ${r.enabled ? 'good' : ''}`, dataset: { key: 'enabled' } }, t(r.enabled ? 'rules.on' : 'rules.off')),
      ' ', h('span', { dataset: { key: 'limit' } }, `${t(`rules.dir.${r.direction}`)} ${limitText}`),
      h('div', { class: 'small muted' }, t('rules.timing', { s: r.min_duration_s, hys: r.hysteresis })));
    const cells = [h('td', {}, kindText(r.kind), ' ', severityBadge(r.severity)), inForce];
    if (staff) {
      const input = (name, ph) => h('td', {}, h('input', { name, value: f[name], placeholder: ph, inputmode: 'decimal', class: 'rule-input', 'aria-label': t(`rules.${name}`) }),
        h('div', { class: 'field-error', dataset: { error: name }, role: 'alert' }));
      cells.push(
        h('td', {}, h('select', { name: 'enabled', 'aria-label': t('rules.enabled') },
          ['', 'on', 'off'].map((v) => h('option', { value: v, selected: f.enabled === v }, t(`rules.enabled.${v || 'default'}`))))),
        input('limit', t('rules.default')), input('min_duration_s', t('rules.default')), input('hysteresis', t('rules.default')));
    }
    return h('tr', { dataset: { kind: r.kind } }, cells);
  }

  function show(rules) {
    const head = [t('alarm.kind'), t('rules.in_force')];
    if (staff) head.push(t('rules.enabled'), t('rules.limit_unit'), t('rules.min_duration_s'), t('rules.hysteresis'));
    const table = h('table', { class: 'rules' }, h('thead', {}, h('tr', {}, head.map((x) => h('th', {}, x)))),
      h('tbody', {}, rules.map(row)));
    if (!staff) {
      fill(body, table);
      return;
    }
    const form = h('form', { id: 'alarm-rules-form', novalidate: true, onsubmit: (e) => { e.preventDefault(); save(form, rules); } },
      table, h('button', { type: 'submit', id: 'alarm-rules-submit' }, t('rules.save')));
    fill(body, form);
  }

  async function save(form, rules) {
    fill(result);
    const forms = {};
    for (const r of rules) {
      const tr = form.querySelector(`tr[data-kind="${r.kind}"]`);
      forms[r.kind] = { enabled: tr.querySelector('[name="enabled"]').value };
      for (const k of FIELDS) forms[r.kind][k] = tr.querySelector(`[name="${k}"]`).value;
    }
    const { body: req, errors } = rulesBody(forms);
    for (const r of rules) {
      const tr = form.querySelector(`tr[data-kind="${r.kind}"]`);
      for (const k of FIELDS) {
        const err = errors[r.kind]?.[k];
        fill(tr.querySelector(`[data-error="${k}"]`), err ? t(err[0], err[1]) : '');
        tr.querySelector(`[name="${k}"]`).setAttribute('aria-invalid', err ? 'true' : 'false');
      }
    }
    if (Object.keys(errors).length) {
      fill(result, errorBox(t('rules.fix')));
      return;
    }
    try {
      const r = await Api.setAlarmRules(id, req.rules);
      if (stopped) return;
      show(r.rules);
      fill(result, h('span', { class: 'ok' }, t('rules.saved')));
    } catch (err) {
      if (!stopped) fill(result, errorBox(apiMessage(err)));
    }
  }

  Api.alarmRules(id).then((r) => { if (!stopped) show(r.rules); })
    .catch((err) => { if (!stopped) fill(body, errorBox(apiMessage(err))); });
  return () => {
    stopped = true;
  };
}
