// 三相电表的分相数据。/ Per-phase values of a three-phase reading (docs/protocol.md,
// "Three-phase readings"): which readings are three-phase, and the rows the device page
// shows (voltage, current and active power of each phase, the neutral current).

const format = require('./format.js')

const WIRING_TEXT = { '3p4w': '三相四线', '3p3w': '三相三线' }

// A reading without `wiring` (every single-phase meter's) is single-phase.
function isThreePhase(latest) {
  return !!latest && Object.prototype.hasOwnProperty.call(WIRING_TEXT, latest.wiring)
}

// [{key, label, voltage, current, power}] for phases a, b, c (texts, "--" where missing), and
// the neutral (current only) when the reading carries it.
function phaseRows(latest) {
  const rows = ['a', 'b', 'c'].map(p => ({
    key: p,
    label: p.toUpperCase() + ' 相',
    voltage: format.formatNumber(latest['voltage_' + p], 1),
    current: format.formatNumber(latest['current_' + p], 2),
    power: format.formatNumber(latest['power_w_' + p], 1)
  }))
  if (typeof latest.current_n === 'number') {
    rows.push({ key: 'n', label: '中性线', voltage: '', current: format.formatNumber(latest.current_n, 2), power: '' })
  }
  return rows
}

// What the device page's three-phase card shows; threePhase false for a single-phase reading.
function view(latest) {
  if (!isThreePhase(latest)) return { threePhase: false, phases: [], wiringText: '', sequenceWrong: false }
  return {
    threePhase: true,
    phases: phaseRows(latest),
    wiringText: WIRING_TEXT[latest.wiring],
    sequenceWrong: latest.sequence === 'acb'
  }
}

module.exports = { isThreePhase, phaseRows, view }
