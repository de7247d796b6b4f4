// Energy per day (the last 30 days) or per month (the last 12 months), as bars.
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { barOption, createChart } from '../charts.js';
import { energyBuckets } from '../energy.js';

export function energySection(el, { id }) {
  const chartEl = h('div', { class: 'chart short', id: 'energy-chart' });
  const status = h('div', { class: 'status', id: 'energy-status' });
  // What billing charged beside the energy: the last 7 buckets as a table.
  const costs = h('div', { class: 'table-wrap', id: 'energy-costs' });
  const buttons = ['day', 'month'].map((period) =>
    h('button', { type: 'button', class: 'seg', dataset: { period }, onclick: () => load(period) }, t(`energy.${period}`)));
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.energy'))),
    h('div', { class: 'segments', role: 'group' }, buttons), status, chartEl, costs);
  let chart = null;
  let stopped = false;
  let request = 0;

  async function load(period) {
    const mine = ++request;
    for (const b of buttons) b.classList.toggle('active', b.dataset.period === period);
    const now = new Date();
    const from = period === 'day'
      ? new Date(now.getFullYear(), now.getMonth(), now.getDate() - 29)
      : new Date(now.getFullYear(), now.getMonth() - 11, 1);
    const to = new Date(now.getFullYear(), now.getMonth(), now.getDate() + 1);
    fill(status);
    try {
      const buckets = await energyBuckets(id, period, from, to);
      if (stopped || mine !== request) return;
      if (!buckets || buckets.length === 0) {
        chartEl.hidden = true;
        fill(costs);
        fill(status, h('p', { class: 'muted' }, t('energy.none')));
        return;
      }
      chartEl.hidden = false;
      if (!chart) chart = createChart(chartEl);
      chart.chart.resize();
      const labels = buckets.map((b) => (period === 'month' ? b.date.slice(0, 7) : b.date.slice(5)));
      chart.set(barOption(t('energy.kwh'), labels, buckets.map((b) => +(b.energy_wh / 1000).toFixed(3))), true);
      fill(costs, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, t('energy.date')),
        h('th', { class: 'num' }, t('energy.kwh')), h('th', { class: 'num' }, t('energy.cost')))),
      h('tbody', {}, buckets.slice(-7).reverse().map((b, k) => h('tr', {},
        h('td', {}, labels[buckets.length - 1 - k]), h('td', { class: 'num' }, (b.energy_wh / 1000).toFixed(3)),
        h('td', { class: 'num' }, typeof b.cost === 'number' ? b.cost.toFixed(2) : '—'))))));
    } catch (err) {
      if (!stopped && mine === request) fill(status, errorBox(apiMessage(err)));
    }
  }
  load('day');
  return () => {
    stopped = true;
    if (chart) chart.dispose();
  };
}
