// 告警的显示：服务器判断出的告警（GET /api/alarms），手机端不再自行推断。
// How the server's alarms show (docs/api.md "Alarms"); the phone derives none itself. Also the
// device status words the list and device pages share.

const format = require('./format.js')
const i18n = require('./i18n.js')

const STATUSES = ['online', 'offline', 'unknown']
const SEVERITIES = ['critical', 'major', 'minor']

// A device's status as the pages know it: online, offline, or unknown for anything else.
function statusOf(status) {
  return STATUSES.indexOf(status) >= 0 ? status : 'unknown'
}

// "在线" / "Online", ... in the current language.
function statusText(status) {
  return i18n.t('status.' + statusOf(status))
}

// A word of the table, or the server's own name for what the table does not know.
function word(key, fallback) {
  const s = i18n.t(key)
  return s === key ? fallback : s
}

// Volts and percents with one decimal, minutes with none, a power factor (no unit) three,
// the rest (A, Hz) two.
function digitsFor(unit) {
  if (unit === 'V' || unit === '%') return 1
  if (unit === 'min') return 0
  return unit ? 2 : 3
}

function isOpen(a) {
  return a.state === 'raised' || a.state === 'acknowledged'
}

// One alarm of the API as the page shows it, worded in the current language.
function present(a) {
  const unit = a.unit ? ' ' + a.unit : ''
  const measured = typeof a.value === 'number' && typeof a.limit === 'number'
  const digits = digitsFor(a.unit)
  const severity = SEVERITIES.indexOf(a.severity) >= 0 ? a.severity : 'minor'
  return {
    id: a.id,
    deviceId: a.device_id,
    kind: a.kind,
    severity,
    state: a.state,
    open: isOpen(a),
    title: word('alarm.kind.' + String(a.kind).replace(/\./g, '_'), a.kind), // the tables' keys have no dots
    severityText: word('alarm.severity.' + a.severity, a.severity),
    stateText: word('alarm.state.' + a.state, a.state),
    detail: measured
      ? i18n.t('alarm.valueLimit', { value: format.formatNumber(a.value, digits) + unit, limit: format.formatNumber(a.limit, digits) + unit })
      : (a.message || ''),
    message: a.message || '',
    site: a.site || '',
    raisedAt: format.formatDateTime(a.raised_at),
    ackText: a.acknowledged_by ? i18n.t('alarm.ackedBy', { who: a.acknowledged_by, time: format.formatDateTime(a.acknowledged_at) }) : '',
    note: a.note || '',
    clearedText: a.cleared_at ? i18n.t('alarm.clearedAt', { time: format.formatDateTime(a.cleared_at) }) : ''
  }
}

// Open alarms first (the most severe first, then the newest), then the others newest first;
// an alarm in both lists (changed between the two reads) once, as its newer self.
function ordered(open, recent) {
  const seen = {}
  const rank = s => { const k = SEVERITIES.indexOf(s); return k < 0 ? SEVERITIES.length : k }
  const first = open.slice().sort((a, b) => rank(a.severity) - rank(b.severity) || b.id - a.id)
  first.forEach(a => { seen[a.id] = true })
  return first.concat(recent.filter(a => !seen[a.id]))
}

module.exports = { statusOf, statusText, present, ordered, isOpen, digitsFor }
