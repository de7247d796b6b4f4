// Waveform captures: the list, a button for operators and admins to ask the meter for one,
// and for a complete capture its V/I waveform, the harmonics as bars and the analysis. A
// three-phase capture shows every channel, its analysis per phase with the totals,
// unbalance and sequence, and the harmonics of the phase picked.
import { Api } from '../api.js';
import { h, fill, errorBox } from '../dom.js';
import { apiMessage, t } from '../i18n.js';
import { PHASE_COLORS, createChart, harmonicsOption, waveformOption } from '../charts.js';
import { dateTime, num } from '../format.js';
import { PHASES } from '../threephase.js';

const MAX_POINTS = 8000; // samples drawn per channel; longer captures are decimated
const POLL_MS = 500;
const POLL_LIMIT = 80; // a capture reads as failed after 30 s; stop polling after 40 s
const ANALYSIS = [
  ['frequency_hz', 3], ['vrms', 2], ['irms', 3], ['p_w', 1], ['q_var', 1], ['s_va', 1],
  ['pf', 3], ['phase_deg', 2], ['thd_v', 2], ['thd_i', 2], ['windows', 0],
];
// A three-phase analysis: per phase (a row each), then the system's.
const PHASE_ANALYSIS = [['vrms', 2], ['irms', 3], ['p_w', 1], ['q_var', 1], ['pf', 3], ['phase_deg', 2], ['thd_v', 2], ['thd_i', 2]];
const SYSTEM_ANALYSIS = [
  ['frequency_hz', 3], ['p_w', 1], ['q_var', 1], ['s_va', 1], ['pf', 3], ['neutral_irms', 3],
  ['unbalance_u2_pct', 2], ['unbalance_u0_pct', 2], ['unbalance_i2_pct', 2], ['windows', 0],
];

// The analysis of a three-phase capture: a table of the phases, then the system's numbers
// and its phase sequence.
function threePhaseAnalysis(a) {
  const seq = a.sequence === 'acb'
    ? h('span', { class: 'badge bad', role: 'alert', dataset: { key: 'sequence' } }, t('phases.seq_acb'))
    : h('span', { class: `badge ${a.sequence ? 'good' : ''}`, dataset: { key: 'sequence' } }, a.sequence === 'abc' ? t('phases.seq_abc') : '—');
  return [
    h('div', { class: 'table-wrap' }, h('table', { id: 'capture-phase-table' },
      h('thead', {}, h('tr', {}, h('th', {}, t('phases.phase')), PHASE_ANALYSIS.map(([k]) => h('th', { class: 'num' }, t(`analysis.${k}`))))),
      h('tbody', {}, PHASES.filter((p) => a.phases[p]).map((p) => h('tr', { dataset: { phase: p } },
        h('th', { scope: 'row', class: `phase-${p}` }, t(`phases.${p}`)),
        PHASE_ANALYSIS.map(([k, d]) => h('td', { class: 'num', dataset: { key: k } }, num(a.phases[p][k], d)))))))),
    h('p', {}, h('span', { class: 'muted small' }, t('phases.sequence')), ' ', seq),
    h('dl', {}, SYSTEM_ANALYSIS.map(([k, d]) => h('div', {}, h('dt', {}, t(`analysis.${k}`)), h('dd', { dataset: { key: k } }, num(a[k], d))))),
  ];
}

// The channels of a samples answer to draw: those it lists in `channels` (a three-phase
// capture: va, vb, vc, ia, ib, ic, or the line-to-line voltages of 3p3w), else v and i.
// Each with its legend name, unit and, per phase, the phase's colour.
export function captureChannels(s) {
  const names = Array.isArray(s.channels) ? s.channels : ['v', 'i'];
  return names.map((name, k) => {
    const data = s[name];
    if (!Array.isArray(data)) return null;
    const unit = (Array.isArray(s.units) && s.units[k]) || (name.startsWith('i') ? 'A' : 'V');
    if (name === 'v' || name === 'i') return { name: `${t(name === 'v' ? 'field.voltage' : 'field.current')} (${unit})`, unit, data };
    // va → Ua, vab → Uab, ia → Ia; a line-to-line voltage takes its first phase's colour.
    const label = `${name[0] === 'v' ? 'U' : 'I'}${name.slice(1)}`;
    return { name: `${label} (${unit})`, unit, data, color: PHASE_COLORS[name[1]] };
  }).filter(Boolean);
}

export function capturesSection(el, { id, staff }) {
  const status = h('div', { class: 'status', id: 'capture-status' });
  const select = h('select', { id: 'capture-select', onchange: () => show(select.value) });
  const analysis = h('div', { class: 'analysis', id: 'capture-analysis' });
  const waveEl = h('div', { class: 'chart', id: 'waveform-chart', hidden: true });
  const harmEl = h('div', { class: 'chart short', id: 'harmonics-chart', hidden: true });
  // The phase whose harmonics show, for a three-phase capture.
  let harmPhase = 'a';
  let harmSource = null; // the analysis drawn
  const harmButtons = PHASES.map((p) => h('button', { type: 'button', class: 'seg', dataset: { phase: p }, onclick: () => drawHarmonics(p) }, t(`phases.${p}`)));
  const harmPicker = h('div', { class: 'segments', role: 'group', id: 'harmonics-phases', hidden: true }, harmButtons);
  const duration = h('input', { id: 'capture-duration', type: 'number', min: 100, max: 10000, step: 100, value: 1000 });
  const request = staff && h('form', { class: 'inline', onsubmit: async (e) => {
    e.preventDefault();
    try {
      const c = await Api.requestCapture(id, Number(duration.value));
      fill(status, t('capture.pending'));
      await waitFor(c.capture_id);
    } catch (err) {
      fill(status, errorBox(apiMessage(err)));
    }
  } }, h('label', { for: 'capture-duration' }, t('capture.duration')), duration, h('button', { type: 'submit', id: 'capture-request' }, t('capture.request')));
  fill(el, h('div', { class: 'section-head' }, h('h2', {}, t('device.captures'))), request,
    h('label', {}, t('capture.select'), ' ', select), status, analysis, waveEl, harmPicker, harmEl);
  let wave = null;
  let harm = null;
  let stopped = false;
  let timer = null;

  async function list(selectId) {
    const r = await Api.captures(id);
    if (stopped) return;
    fill(select, r.captures.map((c) => h('option', { value: c.capture_id }, `#${c.capture_id} ${dateTime(c.requested_at)} · ${t(`capture.state.${c.state}`)}`)));
    if (!r.captures.length) {
      fill(status, h('p', { class: 'muted' }, t('capture.none')));
      return;
    }
    select.value = String(selectId ?? r.captures[0].capture_id);
    await show(select.value);
  }

  // Harmonics bars of a single-phase analysis, or of one phase of a three-phase one.
  function drawHarmonics(p) {
    harmPhase = p;
    const a = harmSource?.phases ? harmSource.phases[p] : harmSource;
    for (const b of harmButtons) b.classList.toggle('active', b.dataset.phase === p);
    if (!a || !Array.isArray(a.harmonics_v) || !Array.isArray(a.harmonics_i)) {
      harmEl.hidden = true;
      return;
    }
    harmEl.hidden = false;
    if (!harm) harm = createChart(harmEl);
    harm.chart.resize();
    harm.set(harmonicsOption({ v: 'V', i: 'I' }, a.harmonics_v, a.harmonics_i), true);
  }

  async function waitFor(cid) {
    for (let i = 0; i < POLL_LIMIT && !stopped; i++) {
      const c = await Api.capture(id, cid);
      if (c.state !== 'pending') return list(cid);
      await new Promise((res) => { timer = setTimeout(res, POLL_MS); });
    }
    return list(cid);
  }

  async function show(cid) {
    try {
      const c = await Api.capture(id, cid);
      if (stopped) return;
      fill(analysis);
      waveEl.hidden = harmEl.hidden = harmPicker.hidden = true;
      if (c.state === 'pending') return fill(status, t('capture.pending'));
      if (c.state === 'failed') return fill(status, errorBox(t('capture.failed', { message: c.message || '' })));
      fill(status, c.message ? h('p', { class: 'muted' }, c.message) : null);
      const a = c.analysis;
      harmSource = a || null;
      harmPicker.hidden = !a?.phases;
      if (a?.phases) fill(analysis, threePhaseAnalysis(a));
      else if (a) fill(analysis, h('dl', {}, ANALYSIS.map(([k, d]) => [h('dt', {}, t(`analysis.${k}`)), h('dd', { dataset: { key: k } }, num(a[k], d))])));
      drawHarmonics(a?.phases && !a.phases[harmPhase] ? 'a' : harmPhase);
      const s = await Api.captureSamples(id, cid, Math.max(1, Math.ceil(c.samples / MAX_POINTS)));
      if (stopped) return;
      waveEl.hidden = false;
      if (!wave) wave = createChart(waveEl);
      wave.chart.resize();
      const opt = waveformOption(captureChannels(s), s.rate_hz);
      opt.dataZoom = [{ type: 'inside', startValue: 0, endValue: 100 }, { type: 'slider', height: 16, bottom: 4, startValue: 0, endValue: 100 }];
      wave.set(opt, true);
    } catch (err) {
      if (!stopped) fill(status, errorBox(apiMessage(err)));
    }
  }

  list().catch((err) => { if (!stopped) fill(status, errorBox(apiMessage(err))); });
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (wave) wave.dispose();
    if (harm) harm.dispose();
  };
}
