// 告警规则：设备离线、余额不足、数据停滞。/ Alarm rules over the device list.

const format = require('./format.js')

const STATUS_TEXT = { online: '在线', offline: '离线', unknown: '未知' }

// devices: the list of GET /api/devices. options: {lowBalanceYuan, staleMinutes, now}.
// Returns [{deviceId, kind, level, title, detail}], the most serious first.
function computeAlarms(devices, options) {
  const now = options.now === undefined ? Date.now() : options.now
  const lowFen = Math.round(options.lowBalanceYuan * 100)
  const staleMs = options.staleMinutes * 60 * 1000
  const alarms = []
  const list = Array.isArray(devices) ? devices : []
  list.forEach(d => {
    const id = d.device_id
    if (d.status === 'offline') {
      alarms.push({
        deviceId: id, kind: 'offline', level: 'danger', title: '设备离线',
        detail: d.status_at ? '自 ' + format.formatDateTime(d.status_at) + ' 起离线' : '设备已离线'
      })
    }
    const fen = format.toFen(d.balance)
    if (fen !== null && fen <= 0) {
      alarms.push({
        deviceId: id, kind: 'arrears', level: 'danger', title: '已欠费',
        detail: '余额 ¥' + format.fenToYuan(fen) + '，请尽快充值'
      })
    } else if (fen !== null && fen < lowFen) {
      alarms.push({
        deviceId: id, kind: 'low_balance', level: 'warning', title: '余额不足',
        detail: '余额 ¥' + format.fenToYuan(fen) + '，低于 ¥' + format.fenToYuan(lowFen)
      })
    }
    const ts = d.latest && d.latest.timestamp ? new Date(d.latest.timestamp).getTime() : NaN
    if (!d.latest) {
      alarms.push({ deviceId: id, kind: 'no_data', level: 'warning', title: '暂无数据', detail: '尚未收到任何读数' })
    } else if (!isNaN(ts) && now - ts > staleMs && d.status !== 'offline') {
      alarms.push({
        deviceId: id, kind: 'stale', level: 'warning', title: '数据停滞',
        detail: '最新读数在 ' + format.formatAgo(d.latest.timestamp, now) + '（' + format.formatDateTime(d.latest.timestamp) + '）'
      })
    }
  })
  const rank = { danger: 0, warning: 1 }
  return alarms.sort((a, b) => rank[a.level] - rank[b.level] || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0))
}

module.exports = { computeAlarms, STATUS_TEXT }
