// The balance's history and, for operators and admins, the recharge form (which shows the
// new balance the server answers).
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime, money, randomKey } from '../format.js';

export function ledgerSection(el, { id, staff, reloadHead }) {
  const table = h('div', { class: 'table-wrap', id: 'ledger' });
  const status = h('div', { class: 'status' });
  const form = staff ? rechargeForm() : null;
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.ledger'))), form, status, table);
  let stopped = false;

  async function load() {
    try {
      const r = await Api.ledger(id, 20);
      if (stopped) return;
      if (!r.entries.length) {
        fill(table, h('p', { class: 'muted' }, t('ledger.empty')));
        return;
      }
      fill(table, h('table', {},
        h('thead', {}, h('tr', {},
          h('th', {}, t('ledger.time')), h('th', { class: 'wide-only' }, t('ledger.kind')),
          h('th', { class: 'num' }, t('ledger.amount')), h('th', { class: 'num' }, t('ledger.balance_after')),
          h('th', { class: 'wide-only' }, t('ledger.actor')))),
        h('tbody', {}, r.entries.map((e) => h('tr', {},
          h('td', {}, dateTime(e.created_at)), h('td', { class: 'wide-only' }, t(`ledger.kind.${e.kind}`)),
          h('td', { class: 'num' }, money(e.amount)), h('td', { class: 'num' }, money(e.balance_after)),
          h('td', { class: 'wide-only' }, e.actor ?? '—'))))));
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
  }

  function rechargeForm() {
    const amount = h('input', { id: 'recharge-amount', inputmode: 'decimal', required: true, pattern: '\\d+(\\.\\d{1,2})?', placeholder: '100.00' });
    const submit = h('button', { type: 'submit', id: 'recharge-submit' }, t('recharge.submit'));
    const result = h('div', { class: 'status', id: 'recharge-result', 'aria-live': 'polite' });
    // One key per amount typed: a retry of the same recharge (a timeout, a double click)
    // credits once; a new amount is a new recharge.
    let key = randomKey();
    let keyAmount = null;
    return h('form', { class: 'inline recharge', onsubmit: async (e) => {
      e.preventDefault();
      const value = amount.value.trim();
      if (value !== keyAmount) {
        key = randomKey();
        keyAmount = value;
      }
      submit.disabled = true;
      fill(result, t('recharge.busy'));
      try {
        const r = await Api.recharge(id, value, key);
        fill(result, h('span', { class: 'ok' }, t('recharge.done', { balance: money(r.new_balance) })));
        amount.value = '';
        keyAmount = null;
        await Promise.all([load(), reloadHead()]);
      } catch (err) {
        fill(result, errorBox(apiMessage(err)));
      } finally {
        submit.disabled = false;
      }
    } }, h('h3', {}, t('device.recharge')), h('label', { for: 'recharge-amount' }, t('recharge.amount')), amount, submit, result);
  }

  load();
  return () => {
    stopped = true;
  };
}
