// 三相电表的分相数据。/ Per-phase values of a three-phase reading (docs/protocol.md,
// "Three-phase readings"): which readings are three-phase, and the rows the device page
// shows (voltage, current and active power of each phase, the neutral current).

const format = require('./format.js')
const i18n = require('./i18n.js')

const WIRINGS = ['3p4w', '3p3w']

// A reading without `wiring` (every single-phase meter's) is single-phase.
function isThreePhase(latest) {
  return !!latest && WIRINGS.indexOf(latest.wiring) >= 0
}

// [{key, label, voltage, current, power}] for phases a, b, c (texts, "--" where missing), and
// the neutral (current only) when the reading carries it.
function phaseRows(latest) {
  const rows = ['a', 'b', 'c'].map(p => ({
    key: p,
    label: i18n.t('phase.' + p),
    voltage: format.formatNumber(latest['voltage_' + p], 1),
    current: format.formatNumber(latest['current_' + p], 2),
    power: format.formatNumber(latest['power_w_' + p], 1)
  }))
  if (typeof latest.current_n === 'number') {
    rows.push({ key: 'n', label: i18n.t('phase.n'), voltage: '', current: format.formatNumber(latest.current_n, 2), power: '' })
  }
  return rows
}

// What the device page's three-phase card shows; threePhase false for a single-phase reading.
function view(latest) {
  if (!isThreePhase(latest)) return { threePhase: false, phases: [], wiringText: '', sequenceWrong: false }
  return {
    threePhase: true,
    phases: phaseRows(latest),
    wiringText: i18n.t('phase.wiring_' + latest.wiring),
    sequenceWrong: latest.sequence === 'acb'
  }
}

module.exports = { isThreePhase, phaseRows, view }
