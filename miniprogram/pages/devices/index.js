// 设备列表：余额、在线状态和最新读数。/ Device list: balance, status, latest reading.
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')
const alarms = require('../../utils/alarms.js')
const config = require('../../config.js')
const i18n = require('../../utils/i18n.js')

function row(d) {
  const latest = d.latest || {}
  const fen = format.toFen(d.balance)
  const status = alarms.statusOf(d.status)
  return {
    id: d.device_id,
    status,
    statusText: alarms.statusText(status),
    balanceText: format.formatMoney(d.balance),
    lowBalance: fen !== null && fen < Math.round(config.lowBalanceYuan * 100),
    powerText: typeof latest.power_w === 'number' ? format.formatNumber(latest.power_w, 1) + ' W' : '--',
    voltageText: typeof latest.voltage === 'number' ? format.formatNumber(latest.voltage, 1) + ' V' : '--',
    currentText: typeof latest.current === 'number' ? format.formatNumber(latest.current, 2) + ' A' : '--',
    timeText: d.latest ? format.formatDateTime(latest.timestamp) : i18n.t('devices.noData')
  }
}

Component({
  data: {
    s: {},
    devices: [],
    loading: false,
    error: '',
    updatedText: ''
  },

  lifetimes: {
    attached() {
      this.setData({ s: i18n.section('devices') })
    }
  },

  methods: {
    // A tab page stays alive: the language may have changed on the me page meanwhile.
    onShow() {
      this.setData({ s: i18n.section('devices') })
      i18n.setTitle(i18n.t('devices.title'))
      i18n.applyTabBar()
      return this.load()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    load() {
      this.setData({ loading: true })
      return api.listDevices().then(list => {
        this.setData({
          devices: list.map(row),
          loading: false,
          error: '',
          updatedText: i18n.t('devices.updated', { time: format.formatDateTime(new Date()) })
        })
      }, err => {
        this.setData({ loading: false, error: err.message })
      })
    },

    onOpen(e) {
      const id = e.currentTarget.dataset.id
      wx.navigateTo({ url: '/pages/device/index?id=' + encodeURIComponent(id) })
    }
  }
})
