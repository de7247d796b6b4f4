// 告警页：服务器判断出的告警（未恢复的在前，然后是最近的）及其总数，下拉刷新，分页，点开看详情，运维人员可确认并备注。
// Alarms page: the server's alarms (GET /api/alarms), the open ones first, then the recent
// ones page by page, with how many there are in all (the answers' total); pull down to
// refresh; tap one for its details; operators and admins acknowledge it with a note
// (POST /api/alarms/:id/ack). A WeChat subscribe message opens this page with ?id=17: that
// alarm shows opened. While shown, the page follows the live stream (GET /api/alarms/stream):
// each change moves its alarm in the lists at once; after a reconnect the lists are read
// again. A base library without wx.request's enableChunked keeps to reading on show and on
// pull-down.
const api = require('../../utils/api.js')
const alarms = require('../../utils/alarms.js')
const i18n = require('../../utils/i18n.js')

const TAB_INDEX = 1
const OPEN_LIMIT = 200
const PAGE = 20

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
    openCount: 0,
    raisedCount: 0,
    totalText: '',
    nextBefore: null,
    loaded: false,
    loadingMore: false,
    error: '',
    staff: false,
    expanded: null,
    note: '',
    ackError: '',
    acking: false,
    s: {}
  },

  lifetimes: {
    attached() {
      this.setStrings()
      this.raw = { open: [], recent: [] }
      this.total = null // open and cleared together, as the server counts them; null when it does not
      this.newest = 0 // the highest alarm id read: one above it is new, not yet counted
      this.stream = null
      this.queued = null
    }
  },

  methods: {
    onLoad(options) {
      const id = options && Number(options.id)
      this.focusId = Number.isInteger(id) && id > 0 ? id : null
    },

    // A tab page stays alive: the language may have changed on the me page meanwhile.
    onShow() {
      this.setStrings()
      i18n.setTitle(i18n.t('alarms.title'))
      i18n.applyTabBar()
      this.setData({ staff: api.isStaff(api.getUser()) })
      this.follow()
      return this.load()
    },

    // A tab page is hidden, not unloaded, when another tab shows: the stream closes either way.
    onHide() {
      this.unfollow()
    },

    onUnload() {
      this.unfollow()
    },

    follow() {
      if (this.stream) return
      this.stream = api.openAlarmStream({
        onAlarm: a => this.onStreamAlarm(a),
        onOpen: info => { if (info.reconnected) this.load() } // what changed meanwhile was not streamed
      })
    },

    unfollow() {
      if (!this.stream) return
      this.stream.close()
      this.stream = null
    },

    // One change from the stream. While the lists are being read it is also kept, to apply
    // again to what the read returns (which may predate it).
    onStreamAlarm(a) {
      if (this.queued) this.queued.push(a)
      this.applyAlarm(a)
      if (!this.data.loaded) return
      this.show()
      updateBadge(this.data.raisedCount)
    },

    // A raised or acknowledged alarm is open (replaced where it was, added where not); any
    // other leaves the open list for the top of the recent one. Open and cleared are every
    // alarm, so only a new one changes the count.
    applyAlarm(a) {
      if (a.id > this.newest) {
        this.newest = a.id
        if (this.total !== null) this.total++
      }
      const others = list => list.filter(x => x.id !== a.id)
      if (alarms.isOpen(a)) {
        const known = this.raw.open.some(x => x.id === a.id)
        this.raw.open = known ? this.raw.open.map(x => (x.id === a.id ? a : x)) : this.raw.open.concat([a])
        this.raw.recent = others(this.raw.recent)
      } else {
        this.raw.open = others(this.raw.open)
        this.raw.recent = [a].concat(others(this.raw.recent))
      }
    },

    setStrings() {
      this.setData({ s: i18n.section('alarms') })
      if (this.raw) this.show()
    },

    onPullDownRefresh() {
      return this.load().then(() => wx.stopPullDownRefresh())
    },

    onReachBottom() {
      return this.more()
    },

    // The open alarms, and the first page of the others.
    load() {
      const queued = []
      this.queued = queued
      const done = () => { if (this.queued === queued) this.queued = null }
      return Promise.all([
        api.listAlarms({ state: 'open', limit: OPEN_LIMIT }),
        api.listAlarms({ state: 'cleared', limit: PAGE })
      ]).then(([open, recent]) => {
        done()
        this.raw = { open: open.alarms, recent: recent.alarms }
        this.total = open.total !== null && recent.total !== null ? open.total + recent.total : null
        this.newest = open.alarms.concat(recent.alarms).reduce((m, a) => Math.max(m, a.id), 0)
        queued.forEach(a => this.applyAlarm(a))
        this.setData({ loaded: true, error: '', nextBefore: recent.alarms.length === PAGE ? recent.nextBefore : null })
        return this.focus()
      }).then(() => {
        this.show()
        updateBadge(this.raw.open.filter(a => a.state === 'raised').length)
      }, err => {
        done()
        this.setData({ loaded: true, error: err.message })
      })
    },

    // The alarm a message pointed at: opened, read on its own when it is in neither list.
    focus() {
      const id = this.focusId
      if (!id) return Promise.resolve()
      this.focusId = null
      this.setData({ expanded: id })
      const known = this.raw.open.concat(this.raw.recent).some(a => a.id === id)
      if (known) return Promise.resolve()
      return api.getAlarm(id).then(a => {
        if (alarms.isOpen(a)) this.raw.open.push(a)
        else this.raw.recent.unshift(a)
      }, () => this.setData({ expanded: null }))
    },

    more() {
      if (this.data.nextBefore === null || this.data.loadingMore) return Promise.resolve()
      this.setData({ loadingMore: true })
      return api.listAlarms({ state: 'cleared', limit: PAGE, before: this.data.nextBefore }).then(page => {
        // The stream may have put one of this page's alarms at the top already.
        const have = {}
        this.raw.recent.forEach(a => { have[a.id] = true })
        this.raw.recent = this.raw.recent.concat(page.alarms.filter(a => !have[a.id]))
        this.setData({ loadingMore: false, nextBefore: page.alarms.length === PAGE ? page.nextBefore : null })
        this.show()
      }, err => {
        this.setData({ loadingMore: false, error: err.message })
      })
    },

    show() {
      const list = alarms.ordered(this.raw.open, this.raw.recent).map(alarms.present)
      const total = this.total
      this.setData({
        alarms: list,
        totalText: total === null ? '' : i18n.t(total === 1 ? 'alarms.totalOne' : 'alarms.total', { count: total }),
        openCount: this.raw.open.length,
        raisedCount: this.raw.open.filter(a => a.state === 'raised').length
      })
    },

    // Tapping an alarm opens its details (and closes them again).
    onToggle(e) {
      const id = Number(e.currentTarget.dataset.id)
      this.setData({ expanded: this.data.expanded === id ? null : id, note: '', ackError: '' })
    },

    onOpenDevice(e) {
      wx.navigateTo({ url: '/pages/device/index?id=' + encodeURIComponent(e.currentTarget.dataset.device) })
    },

    onNoteInput(e) {
      this.setData({ note: e.detail.value })
    },

    onAck(e) {
      const id = Number(e.currentTarget.dataset.id)
      const note = String(this.data.note || '').trim()
      if (unescape(encodeURIComponent(note)).length > 255) {
        this.setData({ ackError: i18n.t('alarms.noteTooLong') })
        return Promise.resolve()
      }
      this.setData({ acking: true, ackError: '' })
      return api.ackAlarm(id, note).then(a => {
        const swap = list => list.map(x => (x.id === a.id ? a : x))
        this.raw = { open: swap(this.raw.open), recent: swap(this.raw.recent) }
        this.setData({ acking: false, note: '' })
        this.show()
        updateBadge(this.data.raisedCount)
        wx.showToast({ title: i18n.t('alarms.acked'), icon: 'success' })
      }, err => {
        this.setData({ acking: false, ackError: err.message })
      })
    }
  }
})
