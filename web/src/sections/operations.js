// Remote operations (operators and admins): read the meter's status, set its publish
// interval, sync its clock (POST …/operations, docs/api.md "Remote operations"). Each
// request's lifecycle is polled until it is final (queued while the meter is away, sent,
// done, failed or expired) and told on the page's bus as a 'command' event (the history
// follows); a done operation shows its result: the status as a table, the interval, the
// clock's offset and what the meter did about it.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { num } from '../format.js';

const FINAL = new Set(['done', 'failed', 'expired']);
const POLL_MS = 1000;

// The rows of a read_status result: [key, text].
export function statusRows(r) {
  const yes = (b) => t(b ? 'yes' : 'no');
  const uptime = (s) => {
    const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
    return d ? t('ops.uptime_d', { d, h: hh, m }) : t('ops.uptime_hm', { h: hh, m, s: s % 60 });
  };
  return [
    ['uptime_s', uptime(r.uptime_s)], ['version', r.version ?? '—'],
    ['clock_offset_ms', `${r.clock_offset_ms} ms`],
    ['adc', `${r.adc?.driver ?? '—'} · ${r.adc?.ok ? t('ops.ok') : t('ops.fault')} · ${num(r.adc?.rate_hz, 0)} Hz`],
    ['samples', String(r.adc?.samples ?? '—')], ['read_errors', String(r.adc?.read_errors ?? '—')],
    ['overruns', String(r.overruns)], ['samples_dropped', String(r.samples_dropped)],
    ['interval_s', `${r.interval_s} s`], ['seq', String(r.seq)], ['boot', String(r.boot)],
    ['spool_depth', String(r.spool_depth)], ['relay', r.relay ? t(`relay.${r.relay}`) : '—'],
    ['link', `${r.link?.kind ?? '—'} · ${yes(r.link?.connected)}`],
  ];
}

function resultView(c) {
  const r = c.result;
  if (!r) return null;
  if (c.cmd === 'read_status') {
    return h('table', { id: 'ops-status', class: 'kv' }, h('tbody', {}, statusRows(r).map(([k, v]) =>
      h('tr', { dataset: { key: k } }, h('th', {}, t(`ops.field.${k}`)), h('td', {}, v)))));
  }
  if (c.cmd === 'set_interval') {
    return h('p', { id: 'ops-interval' }, t('ops.interval_set', { now: r.interval_s, before: r.previous_s }));
  }
  return h('p', { id: 'ops-clock' }, t('ops.clock_result', { offset: r.offset_ms, action: t(`ops.action.${r.action}`) }),
    r.note ? h('span', { class: 'muted small' }, ` (${r.note})`) : null);
}

export function operationsSection(el, { id, bus }) {
  const lifecycle = h('div', { class: 'status', id: 'ops-command', 'aria-live': 'polite' });
  const result = h('div', { id: 'ops-result' });
  const interval = h('input', { id: 'ops-interval-s', inputmode: 'decimal', value: '1', size: 6 });
  const intervalError = h('span', { class: 'field-error', id: 'ops-interval-error', role: 'alert' });
  let stopped = false;
  let timer = null;

  async function poll(cid) {
    try {
      const c = await Api.command(id, cid);
      if (stopped) return;
      const states = ['queued', 'sent', 'done'];
      fill(lifecycle,
        h('ol', { class: 'lifecycle' }, states.map((s) => h('li', {
          class: s === c.state ? 'current' : (states.indexOf(s) < states.indexOf(c.state) ? 'past' : ''),
        }, t(`command.${s}`))), FINAL.has(c.state) && c.state !== 'done' ? h('li', { class: 'current bad' }, t(`command.${c.state}`)) : null),
        h('span', { class: c.state === 'done' ? 'ok' : '' }, t('ops.command', { op: t(`ops.${c.cmd}`), state: t(`command.${c.state}`) })),
        c.message ? ` (${c.message})` : '');
      if (lifecycle.dataset.state !== c.state) bus.dispatchEvent(new Event('command'));
      lifecycle.dataset.state = c.state;
      lifecycle.dataset.op = c.cmd;
      fill(result, resultView(c));
      if (!FINAL.has(c.state)) timer = setTimeout(() => poll(cid), POLL_MS);
    } catch (err) {
      if (!stopped) fill(lifecycle, errorBox(apiMessage(err)));
    }
  }

  async function run(body) {
    clearTimeout(timer);
    fill(lifecycle, t('relay.busy'));
    fill(result);
    delete lifecycle.dataset.state;
    try {
      const r = await Api.operation(id, body);
      await poll(r.command_id);
    } catch (err) {
      fill(lifecycle, errorBox(apiMessage(err)));
    }
  }

  const button = (op, label) => h('button', { type: 'button', id: `ops-${op}`, onclick: () => run({ op }) }, label);
  const intervalForm = h('form', { class: 'inline', id: 'ops-interval-form', novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    const s = interval.value.trim();
    const v = /^\d+(\.\d{1,3})?$/.test(s) ? Number(s) : NaN;
    const ok = v >= 0.1 && v <= 3600;
    fill(intervalError, ok ? '' : t('ops.bad_interval'));
    interval.setAttribute('aria-invalid', ok ? 'false' : 'true');
    if (ok) run({ op: 'set_interval', interval_s: v });
  } }, h('label', { for: 'ops-interval-s' }, t('ops.interval_label')), interval,
  h('button', { type: 'submit', id: 'ops-set_interval' }, t('ops.set_interval_button')), intervalError);

  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.operations'))),
    h('div', { class: 'inline' }, button('read_status', t('ops.read_status_button')), ' ',
      button('sync_clock', t('ops.sync_clock_button'))),
    intervalForm, lifecycle, result);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
