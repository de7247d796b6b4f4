// 告警页：离线、余额不足 / 欠费、数据停滞或无数据。阈值见 config.js。
// Alarms page: offline meters, low balance or arrears, stale or missing data.
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')
const alarms = require('../../utils/alarms.js')
const config = require('../../config.js')
const i18n = require('../../utils/i18n.js')

const TAB_INDEX = 1

function updateBadge(n) {
  try {
    if (n > 0 && typeof wx.setTabBarBadge === 'function') {
      wx.setTabBarBadge({ index: TAB_INDEX, text: n > 99 ? '99+' : String(n), fail() {} })
    } else if (typeof wx.removeTabBarBadge === 'function') {
      wx.removeTabBarBadge({ index: TAB_INDEX, fail() {} })
    }
  } catch (e) {
    // The badge is a nicety; a page without a tab bar has none.
  }
}

Component({
  data: {
    alarms: [],
    counts: { offline: 0, balance: 0, data: 0 },
    deviceCount: 0,
    loaded: false,
    error: '',
    s: {},
    allClearText: ''
  },

  lifetimes: {
    attached() {
      this.setStrings()
    }
  },

  methods: {
    // A tab page stays alive: the language may have changed on the me page meanwhile.
    onShow() {
      this.setStrings()
      i18n.setTitle(i18n.t('alarms.title'))
      i18n.applyTabBar()
      return this.load()
    },

    setStrings() {
      this.setData({
        s: i18n.section('alarms', { balance: format.formatMoney(config.lowBalanceYuan), minutes: config.staleMinutes })
      })
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    load() {
      return api.listDevices().then(devices => {
        const list = alarms.computeAlarms(devices, {
          lowBalanceYuan: config.lowBalanceYuan,
          staleMinutes: config.staleMinutes
        }).map(a => Object.assign({ key: a.deviceId + ':' + a.kind }, a))
        const counts = { offline: 0, balance: 0, data: 0 }
        list.forEach(a => {
          if (a.kind === 'offline') counts.offline++
          else if (a.kind === 'low_balance' || a.kind === 'arrears') counts.balance++
          else counts.data++
        })
        this.setData({
          alarms: list,
          counts,
          deviceCount: devices.length,
          allClearText: i18n.t('alarms.allClear', { count: devices.length }),
          loaded: true,
          error: ''
        })
        updateBadge(list.length)
      }, err => {
        this.setData({ loaded: true, error: err.message })
      })
    },

    onOpen(e) {
      wx.navigateTo({ url: '/pages/device/index?id=' + encodeURIComponent(e.currentTarget.dataset.id) })
    }
  }
})
