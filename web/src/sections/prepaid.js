// Prepaid: the relay's state and, for operators and admins, a switch with a required reason
// (POST …/relay, then the command's state polled until it is final); the tariff in force and,
// for operators and admins, a simple editor that adds a version (PUT …/tariff).
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime } from '../format.js';

const FINAL = new Set(['done', 'failed', 'expired']);
const POLL_MS = 1000;

export function prepaidSection(el, { id, staff, detail, onDetail }) {
  const relayState = h('span', { id: 'relay-state', class: 'badge' });
  const command = h('div', { class: 'status', id: 'relay-command', 'aria-live': 'polite' });
  const tariff = h('div', { id: 'tariff' });
  const tariffStatus = h('div', { class: 'status', id: 'tariff-status' });
  let stopped = false;
  let timer = null;

  const showRelay = (d) => {
    const r = d.relay || 'unknown';
    relayState.className = `badge relay-${r}`;
    fill(relayState, t(`relay.${r}`));
  };
  showRelay(detail);
  const off = onDetail(showRelay);

  async function poll(cid) {
    try {
      const c = await Api.command(id, cid);
      if (stopped) return;
      fill(command, h('span', { class: c.state === 'done' ? 'ok' : '' },
        t('relay.command', { relay: t(`relay.${c.relay}`), state: t(`command.${c.state}`) }),
        c.message ? ` (${c.message})` : ''));
      command.dataset.state = c.state;
      if (!FINAL.has(c.state)) timer = setTimeout(() => poll(cid), POLL_MS);
    } catch (err) {
      if (!stopped) fill(command, errorBox(apiMessage(err)));
    }
  }

  function relayForm() {
    const reason = h('input', { id: 'relay-reason', required: true, maxlength: 200, placeholder: t('relay.reason') });
    const button = (relay) => h('button', { type: 'submit', id: `relay-${relay}`, dataset: { relay } }, t(`relay.switch_${relay}`));
    let which = 'off';
    const buttons = [button('off'), button('on')];
    for (const b of buttons) b.addEventListener('click', () => { which = b.dataset.relay; });
    return h('form', { class: 'inline', id: 'relay-form', onsubmit: async (e) => {
      e.preventDefault();
      const why = reason.value.trim();
      if (!why) return;
      clearTimeout(timer);
      fill(command, t('relay.busy'));
      delete command.dataset.state;
      try {
        const r = await Api.relay(id, which, why);
        reason.value = '';
        await poll(r.command_id);
      } catch (err) {
        fill(command, errorBox(apiMessage(err)));
      }
    } }, h('label', { for: 'relay-reason' }, t('relay.reason')), reason, buttons);
  }

  async function loadTariff() {
    try {
      const r = await Api.tariff(id);
      if (stopped) return;
      fill(tariff, h('p', { class: 'muted small' }, t('tariff.since', { from: dateTime(r.effective_from) })),
        h('table', { id: 'tariff-periods' }, h('thead', {}, h('tr', {},
          h('th', {}, t('tariff.from')), h('th', {}, t('tariff.label')), h('th', { class: 'num' }, t('tariff.price')))),
        h('tbody', {}, r.periods.map((p) => h('tr', {}, h('td', {}, p.from), h('td', {}, p.label || '—'),
          h('td', { class: 'num' }, p.price))))));
      if (editor) editor.text.value = r.periods.map((p) => `${p.from} ${p.price}${p.label ? ` ${p.label}` : ''}`).join('\n');
    } catch (err) {
      if (stopped) return;
      if (err.status === 404) fill(tariff, h('p', { class: 'muted' }, t('tariff.none')));
      else fill(tariffStatus, errorBox(apiMessage(err)));
    }
  }

  // One period a line: "HH:MM price [label]".
  function tariffEditor() {
    const text = h('textarea', { id: 'tariff-text', rows: 4, cols: 28, placeholder: '08:00 1.2000 峰\n22:00 0.4000 谷' });
    const result = h('div', { class: 'status', id: 'tariff-result' });
    const form = h('form', { id: 'tariff-form', onsubmit: async (e) => {
      e.preventDefault();
      const periods = text.value.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
        const [from, price, label] = l.split(/\s+/);
        return label ? { from, price, label } : { from, price };
      });
      try {
        await Api.setTariff(id, periods);
        fill(result, h('span', { class: 'ok' }, t('tariff.saved')));
        await loadTariff();
      } catch (err) {
        fill(result, errorBox(apiMessage(err)));
      }
    } }, h('label', { for: 'tariff-text' }, t('tariff.edit')), text, h('button', { type: 'submit', id: 'tariff-submit' }, t('tariff.save')), result);
    return { form, text };
  }

  const editor = staff ? tariffEditor() : null;
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.prepaid'))),
    h('p', {}, `${t('relay.label')}: `, relayState), staff && relayForm(), command,
    h('h3', {}, t('tariff.title')), tariffStatus, tariff, editor && editor.form);
  loadTariff();
  return () => {
    stopped = true;
    clearTimeout(timer);
    off();
  };
}
