// The live chart: the newest readings' V, A and W, polled every 2 s and drawn without
// reloading the page.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { createChart, isNarrow, vawOption } from '../charts.js';

const POLL_MS = 2000;
const POINTS = 150;

export function liveSection(el, { id, reloadHead }) {
  const chartEl = h('div', { class: 'chart', id: 'live-chart' });
  const status = h('div', { class: 'status' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.live')), h('span', { class: 'muted small' }, t('device.live_hint'))), status, chartEl);
  const chart = createChart(chartEl);
  const names = { voltage: `${t('field.voltage')} (V)`, current: `${t('field.current')} (A)`, power: `${t('field.power')} (W)` };
  let timer = null;
  let stopped = false;
  let newestSeq = null;

  async function poll() {
    try {
      const rows = await Api.data(id, { limit: POINTS });
      if (stopped) return;
      const points = rows.slice().reverse().map((r) => ({ t: Date.parse(r.timestamp), voltage: r.voltage, current: r.current, power: r.power_w ?? null }));
      chart.set(vawOption(names, points, { narrow: isNarrow(chartEl) }));
      fill(status);
      if (rows.length && rows[0].seq !== newestSeq) {
        if (newestSeq !== null) await reloadHead();
        newestSeq = rows[0].seq;
      }
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
    if (!stopped) timer = setTimeout(poll, POLL_MS);
  }
  poll();
  return () => {
    stopped = true;
    clearTimeout(timer);
    chart.dispose();
  };
}
