// 告警规则：设备离线、余额不足、数据停滞。/ Alarm rules over the device list.

const format = require('./format.js')
const i18n = require('./i18n.js')

const STATUSES = ['online', 'offline', 'unknown']

// A device's status as the pages know it: online, offline, or unknown for anything else.
function statusOf(status) {
  return STATUSES.indexOf(status) >= 0 ? status : 'unknown'
}

// "在线" / "Online", ... in the current language.
function statusText(status) {
  return i18n.t('status.' + statusOf(status))
}

// devices: the list of GET /api/devices. options: {lowBalanceYuan, staleMinutes, now}.
// Returns [{deviceId, kind, level, title, detail}], the most serious first, worded in the
// current language.
function computeAlarms(devices, options) {
  const t = i18n.t
  const now = options.now === undefined ? Date.now() : options.now
  const lowFen = Math.round(options.lowBalanceYuan * 100)
  const staleMs = options.staleMinutes * 60 * 1000
  const alarms = []
  const list = Array.isArray(devices) ? devices : []
  list.forEach(d => {
    const id = d.device_id
    if (d.status === 'offline') {
      alarms.push({
        deviceId: id, kind: 'offline', level: 'danger', title: t('alarm.offlineTitle'),
        detail: d.status_at ? t('alarm.offlineSince', { time: format.formatDateTime(d.status_at) }) : t('alarm.offline')
      })
    }
    const fen = format.toFen(d.balance)
    if (fen !== null && fen <= 0) {
      alarms.push({
        deviceId: id, kind: 'arrears', level: 'danger', title: t('alarm.arrearsTitle'),
        detail: t('alarm.arrears', { balance: format.fenToYuan(fen) })
      })
    } else if (fen !== null && fen < lowFen) {
      alarms.push({
        deviceId: id, kind: 'low_balance', level: 'warning', title: t('alarm.lowTitle'),
        detail: t('alarm.low', { balance: format.fenToYuan(fen), limit: format.fenToYuan(lowFen) })
      })
    }
    const ts = d.latest && d.latest.timestamp ? new Date(d.latest.timestamp).getTime() : NaN
    if (!d.latest) {
      alarms.push({ deviceId: id, kind: 'no_data', level: 'warning', title: t('alarm.noDataTitle'), detail: t('alarm.noData') })
    } else if (!isNaN(ts) && now - ts > staleMs && d.status !== 'offline') {
      alarms.push({
        deviceId: id, kind: 'stale', level: 'warning', title: t('alarm.staleTitle'),
        detail: t('alarm.stale', { ago: format.formatAgo(d.latest.timestamp, now), time: format.formatDateTime(d.latest.timestamp) })
      })
    }
  })
  const rank = { danger: 0, warning: 1 }
  return alarms.sort((a, b) => rank[a.level] - rank[b.level] || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0))
}

module.exports = { computeAlarms, statusOf, statusText }
