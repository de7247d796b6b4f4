// 电表详情：实时数据（定时刷新）、三相电表的分相数据、历史曲线（uCharts）、余额和供电状态。
// Device page: live values (refreshed on a timer), per-phase values of a three-phase meter,
// history chart (uCharts), balance, and the load relay (on, or cut off for arrears).
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')
const chart = require('../../utils/chart.js')
const alarms = require('../../utils/alarms.js')
const config = require('../../config.js')
const phases = require('../../utils/phases.js')

// What the live panel shows, in order, when the reading carries it.
const FIELDS = [
  { key: 'power_w', label: '有功功率', unit: 'W', digits: 1 },
  { key: 'voltage', label: '电压', unit: 'V', digits: 1 },
  { key: 'current', label: '电流', unit: 'A', digits: 2 },
  { key: 'pf', label: '功率因数', unit: '', digits: 3 },
  { key: 'freq_hz', label: '频率', unit: 'Hz', digits: 2 },
  { key: 'energy_wh', label: '累计电能', unit: 'kWh', digits: 3, scale: 0.001 },
  { key: 'reactive_var', label: '无功功率', unit: 'var', digits: 1 },
  { key: 'apparent_va', label: '视在功率', unit: 'VA', digits: 1 },
  { key: 'thd_v', label: '电压畸变率', unit: '%', digits: 2 },
  { key: 'thd_i', label: '电流畸变率', unit: '%', digits: 2 }
]

// For a three-phase reading voltage and current are the means of the phases, power the total.
const THREE_PHASE_LABELS = { power_w: '总有功功率', voltage: '平均电压', current: '平均电流' }

// The relay as the meter last reported it ("on", "off", or null before any report).
const RELAY_TEXT = { on: '供电中', off: '已断电' }

function relayView(relay) {
  const known = relay === 'on' || relay === 'off'
  return {
    relay: known ? relay : 'unknown',
    relayText: known ? RELAY_TEXT[relay] : '--',
    cutOff: relay === 'off'
  }
}

function liveValues(latest) {
  if (!latest) return []
  const three = phases.isThreePhase(latest)
  return FIELDS.filter(f => typeof latest[f.key] === 'number').map(f => ({
    key: f.key,
    label: (three && THREE_PHASE_LABELS[f.key]) || f.label,
    unit: f.unit,
    value: format.formatNumber(latest[f.key] * (f.scale || 1), f.digits)
  }))
}

Component({
  data: {
    id: '',
    status: 'unknown',
    statusText: alarms.STATUS_TEXT.unknown,
    balanceText: '--',
    lowBalance: false,
    relay: 'unknown',
    relayText: '--',
    cutOff: false,
    values: [],
    threePhase: false,
    phases: [],
    wiringText: '',
    sequenceWrong: false,
    latestText: '--',
    refreshSeconds: config.refreshSeconds,
    error: '',
    ranges: Object.keys(chart.RANGES).map(k => ({ key: k, label: chart.RANGES[k].label })),
    metrics: Object.keys(chart.METRICS).map(k => ({ key: k, label: chart.METRICS[k].label })),
    range: '24h',
    metric: 'power',
    historyLoading: false,
    historyError: '',
    chartEmpty: false
  },

  methods: {
    onLoad(options) {
      const id = decodeURIComponent((options && options.id) || '')
      this.deviceId = id
      this.historySeq = 0
      this.rows = []
      this.setData({ id })
      wx.setNavigationBarTitle({ title: id || '电表详情' })
      return this.loadHistory()
    },

    onShow() {
      this.startRefresh()
      return this.refreshLatest()
    },

    onHide() {
      this.stopRefresh()
    },

    onUnload() {
      this.stopRefresh()
      this.chartInstance = null
    },

    startRefresh() {
      if (this.timer) return
      this.timer = setInterval(() => this.refreshLatest(), config.refreshSeconds * 1000)
    },

    stopRefresh() {
      if (this.timer) {
        clearInterval(this.timer)
        this.timer = null
      }
    },

    refreshLatest() {
      if (this.refreshing) return this.refreshing
      this.refreshing = api.getDevice(this.deviceId).then(d => {
        const fen = format.toFen(d.balance)
        const status = alarms.STATUS_TEXT[d.status] ? d.status : 'unknown'
        this.setData(Object.assign(phases.view(d.latest), relayView(d.relay), {
          status,
          statusText: alarms.STATUS_TEXT[status],
          balanceText: format.formatMoney(d.balance),
          lowBalance: fen !== null && fen < Math.round(config.lowBalanceYuan * 100),
          values: liveValues(d.latest),
          latestText: d.latest ? format.formatDateTime(d.latest.timestamp) : '--',
          error: ''
        }))
      }, err => {
        if (err.statusCode === 401 || err.statusCode === 404) this.stopRefresh()
        this.setData({ error: err.message })
      }).then(() => {
        this.refreshing = null
      })
      return this.refreshing
    },

    loadHistory() {
      const seq = ++this.historySeq
      const range = this.data.range
      this.setData({ historyLoading: true, historyError: '' })
      return api.history(this.deviceId, chart.historyQuery(range)).then(rows => {
        if (seq !== this.historySeq) return null
        this.rows = rows
        this.setData({ historyLoading: false })
        return this.renderChart()
      }, err => {
        if (seq !== this.historySeq) return null
        this.setData({ historyLoading: false, historyError: err.message })
        return null
      })
    },

    // Builds the series from the cached rows and draws them; resolves the chart data.
    renderChart() {
      const data = chart.buildChartData(this.rows, this.data.metric, this.data.range)
      this.chartData = data
      this.setData({ chartEmpty: data.empty })
      return chart.queryCanvas(this, '#history').then(canvas => {
        if (canvas) this.chartInstance = chart.draw(canvas, data)
        return data
      })
    },

    onRange(e) {
      const range = e.currentTarget.dataset.range
      if (!chart.RANGES[range] || range === this.data.range) return Promise.resolve()
      this.setData({ range })
      return this.loadHistory()
    },

    onMetric(e) {
      const metric = e.currentTarget.dataset.metric
      if (!chart.METRICS[metric] || metric === this.data.metric) return Promise.resolve()
      this.setData({ metric })
      return this.renderChart()
    },

    onChartTouch(e) {
      if (this.chartInstance) this.chartInstance.showToolTip(e)
    },

    onBilling() {
      wx.navigateTo({ url: '/pages/billing/index?id=' + encodeURIComponent(this.deviceId) })
    },

    onRecharge() {
      wx.navigateTo({ url: '/pages/recharge/index?id=' + encodeURIComponent(this.deviceId) })
    }
  }
})
