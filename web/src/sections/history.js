// The history chart: averages per bucket from the downsampled API (interval=), over a range
// picked from presets or typed in.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { createChart, isNarrow, vawOption } from '../charts.js';
import { durationParam } from '../format.js';

const HOUR = 3600;
// Each preset's span and bucket width: about 120 to 170 points each.
const PRESETS = [
  { key: '1h', span: HOUR, interval: 30 },
  { key: '24h', span: 24 * HOUR, interval: 600 },
  { key: '7d', span: 7 * 24 * HOUR, interval: HOUR },
  { key: '30d', span: 30 * 24 * HOUR, interval: 6 * HOUR },
];
const CUSTOM_POINTS = 150;

// A datetime-local input's value for a Date, in the browser's zone.
function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function historySection(el, { id }) {
  const chartEl = h('div', { class: 'chart', id: 'history-chart' });
  const status = h('div', { class: 'status' });
  const info = h('span', { class: 'muted small', id: 'history-info' });
  // The custom range starts as the 24 hours to the end of this minute (the inputs hold minutes).
  const end = new Date(Math.ceil(Date.now() / 60000) * 60000);
  const fromIn = h('input', { type: 'datetime-local', id: 'history-from', value: localInput(new Date(end - 24 * HOUR * 1000)) });
  const toIn = h('input', { type: 'datetime-local', id: 'history-to', value: localInput(end) });
  const custom = h('form', { class: 'inline custom-range', hidden: true, onsubmit: (e) => {
    e.preventDefault();
    const from = new Date(fromIn.value);
    const to = new Date(toIn.value);
    if (!(from < to)) {
      fill(status, errorBox(t('range.bad')));
      return;
    }
    const span = (to - from) / 1000;
    load(from, to, Math.max(1, Math.ceil(span / CUSTOM_POINTS)));
  } },
  h('label', {}, t('range.from'), ' ', fromIn), h('label', {}, t('range.to'), ' ', toIn),
  h('button', { type: 'submit' }, t('range.apply')));
  const buttons = [...PRESETS.map((p) => p.key), 'custom'].map((key) =>
    h('button', { type: 'button', class: 'seg', dataset: { range: key }, onclick: () => pick(key) }, t(`range.${key}`)));
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.history')), info),
    h('div', { class: 'segments', role: 'group' }, buttons), custom, status, chartEl);
  const chart = createChart(chartEl);
  const names = { voltage: `${t('field.voltage')} (V)`, current: `${t('field.current')} (A)`, power: `${t('field.power')} (W)` };
  let stopped = false;
  let request = 0;

  async function load(from, to, intervalS) {
    const mine = ++request;
    fill(status);
    try {
      const rows = await Api.data(id, { from: from.toISOString(), to: to.toISOString(), interval: durationParam(intervalS), limit: 10000 });
      if (stopped || mine !== request) return;
      const points = rows.slice().reverse().map((r) => ({ t: Date.parse(r.timestamp), voltage: r.voltage, current: r.current, power: r.power_w ?? null }));
      chart.set(vawOption(names, points, { range: [from.getTime(), to.getTime()], narrow: isNarrow(chartEl) }), true);
      fill(info, points.length ? t('chart.points', { n: points.length, interval: durationParam(intervalS) }) : t('chart.no_data'));
    } catch (err) {
      if (!stopped && mine === request) fill(status, errorBox(apiMessage(err)));
    }
  }

  function pick(key) {
    for (const b of buttons) b.classList.toggle('active', b.dataset.range === key);
    custom.hidden = key !== 'custom';
    const p = PRESETS.find((x) => x.key === key);
    if (!p) return;
    const to = new Date();
    load(new Date(to - p.span * 1000), to, p.interval);
  }
  pick('1h');
  return () => {
    stopped = true;
    chart.dispose();
  };
}
