// Three phases of the latest reading: a per-phase table with the totals, the phasor diagram,
// unbalance and phase sequence, line-to-line voltages and maximum demand (the meter's present
// and month's maximum, and the maxima of the last months the server keeps). Only a device
// whose latest reading is three-phase gets this section; it redraws whenever the page's head
// does (each new reading the live poll sees).
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { createChart, phasorOption } from '../charts.js';
import { dateTime, num } from '../format.js';
import { isThreePhase, phaseRows, phasors, toDate, totalRow } from '../threephase.js';

// The table's columns: the row's key, the heading's key, the digits shown, and a scale.
const COLUMNS = [
  { key: 'voltage', head: 'phases.col.voltage', digits: 1 },
  { key: 'current', head: 'phases.col.current', digits: 2 },
  { key: 'power_w', head: 'phases.col.power', digits: 0 },
  { key: 'reactive_var', head: 'phases.col.reactive', digits: 0 },
  { key: 'apparent_va', head: 'phases.col.apparent', digits: 0 },
  { key: 'pf', head: 'phases.col.pf', digits: 3 },
  { key: 'phase_deg', head: 'phases.col.angle', digits: 1 },
  { key: 'thd_v', head: 'phases.col.thd_v', digits: 2 },
  { key: 'thd_i', head: 'phases.col.thd_i', digits: 2 },
  { key: 'energy_wh', head: 'phases.col.energy', digits: 3, scale: 0.001 },
];

const cell = (row, c) => h('td', { class: 'num', dataset: { key: c.key } },
  num(row[c.key] === null ? null : row[c.key] * (c.scale || 1), c.digits));

function table(r) {
  const rows = phaseRows(r).map((row) =>
    h('tr', { dataset: { phase: row.phase } }, h('th', { scope: 'row', class: `phase-${row.phase}` }, t(`phases.${row.phase}`)), COLUMNS.map((c) => cell(row, c))));
  const total = totalRow(r);
  // Voltage and current of the totals row are means, not sums; the note under the table says so.
  rows.push(h('tr', { dataset: { phase: 'total' }, class: 'total' }, h('th', { scope: 'row' }, t('phases.total')), COLUMNS.map((c) => cell(total, c))));
  if (typeof r.current_n === 'number') {
    rows.push(h('tr', { dataset: { phase: 'n' } }, h('th', { scope: 'row' }, t('phases.n')),
      COLUMNS.map((c) => (c.key === 'current' ? cell({ current: r.current_n }, c) : h('td', { class: 'num' })))));
  }
  return h('div', { class: 'table-wrap' },
    h('table', { id: 'phase-table' },
      h('thead', {}, h('tr', {}, h('th', {}, t('phases.phase')), COLUMNS.map((c) => h('th', { class: 'num' }, t(c.head))))),
      h('tbody', {}, rows)),
    h('p', { class: 'muted small' }, t('phases.total_hint')));
}

function sequenceBadge(seq) {
  if (seq === 'acb') {
    return h('span', { id: 'phase-sequence', class: 'badge bad', role: 'alert', dataset: { sequence: 'acb' } }, t('phases.seq_acb'));
  }
  if (seq === 'abc') return h('span', { id: 'phase-sequence', class: 'badge good', dataset: { sequence: 'abc' } }, t('phases.seq_abc'));
  return h('span', { id: 'phase-sequence', class: 'badge', dataset: { sequence: '' } }, '—');
}

function quality(r) {
  // Each name and value in a div of their own, so the list's grid keeps them together.
  const item = (key, label, value, unit) => h('div', {}, h('dt', {}, label), h('dd', { dataset: { key } }, value, unit && h('small', {}, ` ${unit}`)));
  return h('div', { class: 'analysis', id: 'phase-quality' },
    h('h3', {}, t('phases.quality')),
    h('div', { class: 'sequence-line' }, h('span', { class: 'muted small' }, t('phases.sequence')), ' ', sequenceBadge(r.sequence)),
    h('dl', {},
      item('unbalance_u2_pct', t('phases.u2'), num(r.unbalance_u2_pct, 2), '%'),
      r.wiring === '3p4w' && item('unbalance_u0_pct', t('phases.u0'), num(r.unbalance_u0_pct, 2), '%'),
      item('unbalance_i2_pct', t('phases.i2'), num(r.unbalance_i2_pct, 2), '%'),
      item('voltage_ab', t('phases.uab'), num(r.voltage_ab, 1), 'V'),
      item('voltage_bc', t('phases.ubc'), num(r.voltage_bc, 1), 'V'),
      item('voltage_ca', t('phases.uca'), num(r.voltage_ca, 1), 'V'),
      item('freq_hz', t('field.freq'), num(r.freq_hz, 2), 'Hz')));
}

function demand(r) {
  const kw = (w) => (typeof w === 'number' ? num(w / 1000, 2) : '—');
  const at = toDate(r.demand_max_ts);
  return h('div', { class: 'analysis', id: 'phase-demand' },
    h('h3', {}, t('phases.demand')),
    h('dl', {},
      h('div', {}, h('dt', {}, t('phases.demand_now')), h('dd', { dataset: { key: 'demand_w' } }, kw(r.demand_w), h('small', {}, ' kW'))),
      h('div', {}, h('dt', {}, t('phases.demand_max')), h('dd', { dataset: { key: 'demand_max_w' } }, kw(r.demand_max_w), h('small', {}, ' kW'))),
      h('div', {}, h('dt', {}, t('phases.demand_max_at')), h('dd', { dataset: { key: 'demand_max_ts' } }, at ? dateTime(at.toISOString()) : '—'))));
}

const DEMAND_REFRESH_MS = 60000;

// The months' maximum demand as the server keeps it (GET /api/devices/:id/demand): the meter's
// own month maximum where it reported one, else the largest present demand seen that month.
function demandMonths(months) {
  const rows = months.map((m) => {
    const meter = typeof m.meter_demand_max_w === 'number';
    const w = meter ? m.meter_demand_max_w : m.demand_max_w;
    const at = meter ? m.meter_demand_max_at : m.demand_max_at;
    return h('tr', { dataset: { month: m.month } },
      h('td', {}, m.month),
      h('td', { class: 'num', dataset: { key: 'max' } }, typeof w === 'number' ? num(w / 1000, 2) : '—'),
      h('td', { dataset: { key: 'at' } }, at ? dateTime(at) : '—'));
  });
  return h('div', { class: 'table-wrap' },
    h('table', { id: 'demand-months' },
      h('thead', {}, h('tr', {}, h('th', {}, t('phases.month')), h('th', { class: 'num' }, t('phases.month_max')), h('th', {}, t('phases.demand_max_at')))),
      h('tbody', {}, rows)));
}

export function phasesSection(el, { id, detail, onDetail }) {
  const chartEl = h('div', { class: 'chart phasor', id: 'phasor-chart', role: 'img', 'aria-label': t('phases.phasors') });
  const tableBox = h('div', {});
  const side = h('div', { class: 'phase-side' });
  const months = h('div', { id: 'demand-history' });
  const wiring = h('span', { class: 'muted small', id: 'phase-wiring' });
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.phases')), wiring),
    tableBox,
    h('div', { class: 'columns' }, h('div', {}, h('h3', {}, t('phases.phasors')), chartEl), h('div', {}, side, months)));
  const chart = createChart(chartEl);
  const units = { v: 'V', i: 'A' };
  const name = (p) => `${p.kind === 'v' ? 'U' : 'I'}${p.phase.toUpperCase()}`;

  function show(r) {
    fill(wiring, t(`wiring.${r.wiring}`));
    fill(tableBox, table(r));
    fill(side, quality(r), demand(r));
    const list = phasors(r);
    chart.set(phasorOption(list, name, units), true);
    // The drawn angles, for people and tests checking the diagram against the reading.
    chartEl.dataset.angles = JSON.stringify(Object.fromEntries(list.map((p) => [name(p), +p.angle_deg.toFixed(1)])));
  }
  let stopped = false;
  let timer = null;
  async function loadMonths() {
    try {
      const r = await Api.demand(id);
      if (stopped) return;
      fill(months, r.months.length ? [h('h3', {}, t('phases.demand_months')), demandMonths(r.months)] : null);
    } catch (err) {
      // A server without the endpoint answers 404: the reading's numbers are all there is.
      if (!stopped) fill(months, err.status === 404 ? null : errorBox(apiMessage(err)));
    }
    if (!stopped) timer = setTimeout(loadMonths, DEMAND_REFRESH_MS);
  }

  show(detail.latest);
  loadMonths();
  const off = onDetail((d) => {
    if (isThreePhase(d.latest)) show(d.latest);
  });
  return () => {
    stopped = true;
    clearTimeout(timer);
    off();
    chart.dispose();
  };
}
