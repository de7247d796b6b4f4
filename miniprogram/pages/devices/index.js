// 设备列表：余额、在线状态和最新读数；每页 20 台，滑到底加载下一页，下拉从第一页重来，可搜索；
// 运维人员在顶部看到全网统计（在线/离线/欠费），点一下按它筛选。
// Device list: balance, status, latest reading. Pages of 20 (GET /api/devices?limit=20,
// next_cursor on reaching the bottom), pull-down starts again from the first page, a search
// field (q, debounced); operators and admins see the fleet counts (GET /api/devices/summary)
// at the top, and tapping one filters the list by it.
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')
const alarms = require('../../utils/alarms.js')
const config = require('../../config.js')
const i18n = require('../../utils/i18n.js')
const pager = require('../../utils/devicepager.js')

const SEARCH_MS = 400
// A fleet count chip: the summary's field, its label, and the filter a tap sets.
const COUNTS = [
  { key: 'total', label: 'countTotal', filter: null },
  { key: 'online', label: 'countOnline', filter: { status: 'online' } },
  { key: 'offline', label: 'countOffline', filter: { status: 'offline' } },
  { key: 'unknown', label: 'countUnknown', filter: { status: 'unknown' } },
  { key: 'in_arrears', label: 'countArrears', filter: { arrears: true } },
  { key: 'with_open_alarms', label: 'countAlarms', filter: { alarms: true } }
]

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
    loadingMore: false,
    loaded: false,
    error: '',
    moreError: '',
    updatedText: '',
    staff: false,
    counts: [],
    chip: '',
    filteredText: '',
    search: '',
    total: 0,
    hasMore: false,
    shownText: ''
  },

  lifetimes: {
    attached() {
      this.setData({ s: i18n.section('devices') })
      this.pager = pager.createPager(q => api.listDevicesPage(q), pager.PAGE)
      this.filters = {}
      this.searchTimer = null
    },
    detached() {
      clearTimeout(this.searchTimer)
    }
  },

  methods: {
    // A tab page stays alive: the language may have changed on the me page meanwhile. Coming
    // back reads the pages in view again (balances after a recharge), not just the first.
    onShow() {
      this.setData({ s: i18n.section('devices'), staff: api.isStaff(api.getUser()) })
      i18n.setTitle(i18n.t('devices.title'))
      i18n.applyTabBar()
      if (this.data.chip) this.setData({ filteredText: this.chipText(this.data.chip) })
      return this.data.loaded ? this.refresh() : this.load()
    },

    // Pull-down: the first page again (and the counts).
    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    // The bottom of the list: the next page, if there is one.
    onReachBottom() {
      return this.more()
    },

    counts() {
      if (!api.isStaff(api.getUser())) return Promise.resolve()
      return api.deviceSummary().then(sum => {
        const s = i18n.section('devices')
        this.setData({
          counts: COUNTS.map(c => ({ key: c.key, label: s[c.label], value: typeof sum[c.key] === 'number' ? sum[c.key] : '--' }))
        })
      }, () => {
        // The counts are a nicety on top of the list, whose own error is shown.
      })
    },

    show(st) {
      if (!st) return
      this.setData({
        devices: st.devices.map(row),
        total: st.total,
        hasMore: st.hasMore,
        shownText: i18n.t('devices.shown', { shown: st.devices.length, total: st.total }),
        loading: false,
        loaded: true,
        error: '',
        updatedText: i18n.t('devices.updated', { time: format.formatDateTime(new Date()) })
      })
    },

    fail(err) {
      this.setData({ loading: false, loaded: true, error: err.message })
    },

    // The first page for the search and filter now set.
    load() {
      this.setData({ loading: true, moreError: '' })
      const filters = Object.assign({ q: this.data.search }, this.filters)
      return Promise.all([
        this.pager.reset(filters).then(st => this.show(st), err => this.fail(err)),
        this.counts()
      ])
    },

    refresh() {
      return Promise.all([
        this.pager.refresh().then(st => this.show(st), err => this.fail(err)),
        this.counts()
      ])
    },

    more() {
      if (!this.data.hasMore || this.data.loadingMore) return Promise.resolve()
      this.setData({ loadingMore: true, moreError: '' })
      return this.pager.more().then(st => {
        this.setData({ loadingMore: false })
        this.show(st)
      }, err => {
        this.setData({ loadingMore: false, moreError: err.message })
      })
    },

    // Typing searches once it pauses; the keyboard's search key searches at once.
    onSearchInput(e) {
      this.setData({ search: e.detail.value })
      clearTimeout(this.searchTimer)
      this.searchTimer = setTimeout(() => {
        this.searchTimer = null
        this.load()
      }, SEARCH_MS)
    },

    onSearchConfirm(e) {
      clearTimeout(this.searchTimer)
      this.searchTimer = null
      this.setData({ search: e.detail.value })
      return this.load()
    },

    chipText(key) {
      const c = COUNTS.find(x => x.key === key)
      return c ? i18n.t('devices.filtered', { name: i18n.t('devices.' + c.label) }) : ''
    },

    // A count chip filters by what it counts; the same chip again (or "total") clears it.
    onChip(e) {
      const key = e.currentTarget.dataset.key
      const c = COUNTS.find(x => x.key === key)
      const chip = !c || !c.filter || this.data.chip === key ? '' : key
      this.filters = chip ? Object.assign({}, c.filter) : {}
      this.setData({ chip, filteredText: chip ? this.chipText(chip) : '' })
      return this.load()
    },

    onOpen(e) {
      const id = e.currentTarget.dataset.id
      wx.navigateTo({ url: '/pages/device/index?id=' + encodeURIComponent(id) })
    }
  }
})
