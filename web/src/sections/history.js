// The history chart: averages per bucket from the downsampled API (interval=), over a range
// picked from presets or typed in. For a three-phase meter a second row of buttons picks the
// whole system (the aggregates) or one phase (phase=a|b|c: that phase's V, A and W).
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { createChart, isNarrow, vawOption } from '../charts.js';
import { durationParam } from '../format.js';
import { PHASES, isThreePhase } from '../threephase.js';

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

// A row of the answer as a chart point: the system's fields, or one phase's (voltage_a, ...).
function point(r, phase) {
  const key = (name) => (phase ? `${name}_${phase}` : name);
  return { t: Date.parse(r.timestamp), voltage: r[key('voltage')] ?? null, current: r[key('current')] ?? null, power: r[key('power_w')] ?? null };
}

export function historySection(el, { id, detail }) {
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
  // The phase picker, for a meter whose latest reading is three-phase ('' is the system).
  let phase = '';
  const phaseButtons = isThreePhase(detail?.latest)
    ? ['', ...PHASES].map((p) => h('button', { type: 'button', class: `seg${p ? '' : ' active'}`, dataset: { phase: p }, onclick: () => pickPhase(p) },
      t(p ? `phases.${p}` : 'history.system')))
    : null;
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.history')), info),
    h('div', { class: 'segments', role: 'group' }, buttons),
    phaseButtons && h('div', { class: 'segments', role: 'group', id: 'history-phases' }, phaseButtons),
    custom, status, chartEl);
  const chart = createChart(chartEl);
  let stopped = false;
  let request = 0;
  let last = null; // the range shown, for a change of phase

  async function load(from, to, intervalS) {
    const mine = ++request;
    last = [from, to, intervalS];
    fill(status);
    try {
      const rows = await Api.data(id, { from: from.toISOString(), to: to.toISOString(), interval: durationParam(intervalS), limit: 10000, phase: phase || undefined });
      if (stopped || mine !== request) return;
      const points = rows.slice().reverse().map((r) => point(r, phase));
      const prefix = phase ? `${t(`phases.${phase}`)} ` : '';
      const names = { voltage: `${prefix}${t('field.voltage')} (V)`, current: `${prefix}${t('field.current')} (A)`, power: `${prefix}${t('field.power')} (W)` };
      chart.set(vawOption(names, points, { range: [from.getTime(), to.getTime()], narrow: isNarrow(chartEl) }), true);
      chartEl.dataset.phase = phase;
      fill(info, points.length ? t('chart.points', { n: points.length, interval: durationParam(intervalS) }) : t('chart.no_data'));
      // A server without per-phase history ignores phase= and answers the system's fields.
      if (phase && rows.length && rows.every((r) => r[`voltage_${phase}`] === undefined)) fill(status, h('p', { class: 'muted' }, t('history.no_phase')));
    } catch (err) {
      if (!stopped && mine === request) fill(status, errorBox(apiMessage(err)));
    }
  }

  function pickPhase(p) {
    phase = p;
    for (const b of phaseButtons) b.classList.toggle('active', b.dataset.phase === p);
    if (last) load(...last);
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
