// A device's WeChat Pay orders, newest first (GET …/payments): a user sees the orders they
// placed, operators and admins every order of the device.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { dateTime, money } from '../format.js';

export function paymentsSection(el, { id }) {
  const table = h('div', { class: 'table-wrap', id: 'payments' });
  const status = h('div', { class: 'status', id: 'payments-status' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.payments'))), status, table);
  let stopped = false;

  Api.payments(id, 20).then((r) => {
    if (stopped) return;
    if (!r.payments.length) {
      fill(table, h('p', { class: 'muted' }, t('payments.empty')));
      return;
    }
    fill(table, h('table', {},
      h('thead', {}, h('tr', {},
        h('th', {}, t('payments.created')), h('th', { class: 'num' }, t('payments.amount')), h('th', {}, t('payments.state')),
        h('th', {}, t('payments.paid_at')), h('th', { class: 'wide-only' }, t('payments.order')))),
      h('tbody', {}, r.payments.map((p) => h('tr', { dataset: { order: p.out_trade_no, state: p.state } },
        h('td', {}, dateTime(p.created_at)), h('td', { class: 'num', dataset: { key: 'amount' } }, money(p.amount)),
        h('td', { dataset: { key: 'state' } }, t(`payments.state.${p.state}`)),
        h('td', { dataset: { key: 'paid_at' } }, dateTime(p.paid_at)),
        h('td', { class: 'wide-only small' }, h('code', {}, p.out_trade_no)))))));
  }).catch((err) => { if (!stopped) fill(status, errorBox(apiMessage(err))); });
  return () => {
    stopped = true;
  };
}
