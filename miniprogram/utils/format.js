// 金额、时间和数值的显示格式。/ How money, times and measurements are shown.
//
// Money is handled as integer fen (1/100 yuan) so that no floating-point rounding ever
// shows up on screen or in a request; times from the API are RFC 3339 UTC and are shown in
// the phone's local time.

const i18n = require('./i18n.js')

const MAX_RECHARGE_FEN = 1000000000 // 10000000.00 yuan, the API's limit for one recharge

function pad(n, width) {
  let s = String(n)
  while (s.length < (width || 2)) s = '0' + s
  return s
}

// Yuan (a JSON number such as 1150.35, or a decimal string) → integer fen, or null.
function toFen(value) {
  if (typeof value === 'number') {
    if (!isFinite(value)) return null
    return Math.round(value * 100)
  }
  if (typeof value === 'string') {
    const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(value.trim())
    if (!m) return null
    const fen = parseInt(m[2], 10) * 100 + parseInt(((m[3] || '') + '00').slice(0, 2), 10)
    return m[1] ? -fen : fen
  }
  return null
}

// Integer fen → "1150.35".
function fenToYuan(fen) {
  const sign = fen < 0 ? '-' : ''
  const abs = Math.abs(fen)
  return sign + Math.floor(abs / 100) + '.' + pad(abs % 100, 2)
}

// Money for display: always two decimals, "--" when unknown.
function formatMoney(value) {
  const fen = toFen(value)
  return fen === null ? '--' : fenToYuan(fen)
}

// Validates what a person typed as a recharge amount, before anything is sent.
// Returns {ok: true, fen, yuan: "50.25"} or {ok: false, message}.
function parseAmount(text) {
  const s = typeof text === 'string' ? text.trim() : ''
  if (s === '') return { ok: false, message: i18n.t('amount.empty') }
  if (!/^\d+(\.\d{1,2})?$/.test(s)) {
    return { ok: false, message: i18n.t('amount.format') }
  }
  if (s.split('.')[0].replace(/^0+/, '').length > 8) {
    return { ok: false, message: i18n.t('amount.tooLarge') }
  }
  const fen = toFen(s)
  if (fen <= 0) return { ok: false, message: i18n.t('amount.notPositive') }
  if (fen > MAX_RECHARGE_FEN) return { ok: false, message: i18n.t('amount.tooLarge') }
  return { ok: true, fen, yuan: fenToYuan(fen) }
}

function toDate(value) {
  if (value === null || value === undefined || value === '') return null
  const d = value instanceof Date ? value : new Date(value)
  return isNaN(d.getTime()) ? null : d
}

// "2026-11-24 02:45:52" in local time.
function formatDateTime(value) {
  const d = toDate(value)
  if (!d) return '--'
  return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' +
    pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds())
}

// "02:45" in local time.
function formatClock(value) {
  const d = toDate(value)
  if (!d) return '--'
  return pad(d.getHours()) + ':' + pad(d.getMinutes())
}

// "11-24 02:45" in local time.
function formatShortDateTime(value) {
  const d = toDate(value)
  if (!d) return '--'
  return pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes())
}

// "24日02时" (English "24 02:00") in local time: short axis labels for a week of 2-hour buckets.
function formatDayHour(value) {
  const d = toDate(value)
  if (!d) return '--'
  return i18n.t('time.dayHour', { day: d.getDate(), hour: pad(d.getHours()) })
}

// "3 分钟前" ("3 min ago") — how long ago, for alarms and list rows.
function formatAgo(value, now) {
  const d = toDate(value)
  if (!d) return '--'
  const s = Math.round(((now === undefined ? Date.now() : now) - d.getTime()) / 1000)
  if (s < 60) return i18n.t('time.justNow')
  if (s < 3600) return i18n.t('time.minutesAgo', { n: Math.floor(s / 60) })
  if (s < 86400) return i18n.t('time.hoursAgo', { n: Math.floor(s / 3600) })
  return i18n.t('time.daysAgo', { n: Math.floor(s / 86400) })
}

// A measurement with a fixed number of decimals, "--" when absent.
function formatNumber(value, digits) {
  if (typeof value !== 'number' || !isFinite(value)) return '--'
  return value.toFixed(digits === undefined ? 2 : digits)
}

module.exports = {
  toFen,
  fenToYuan,
  formatMoney,
  parseAmount,
  formatDateTime,
  formatClock,
  formatShortDateTime,
  formatDayHour,
  formatAgo,
  formatNumber
}
