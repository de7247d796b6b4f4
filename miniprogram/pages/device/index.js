// 电表详情：实时数据（定时刷新）、三相电表的分相数据、历史曲线（uCharts）、余额和供电状态。
// Device page: live values (refreshed on a timer), per-phase values of a three-phase meter,
// history chart (uCharts), balance, and the load relay (on, or cut off for arrears).
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')
const chart = require('../../utils/chart.js')
const alarms = require('../../utils/alarms.js')
const config = require('../../config.js')
const phases = require('../../utils/phases.js')
const i18n = require('../../utils/i18n.js')

// What the live panel shows, in order, when the reading carries it (labels: field.<key>).
const FIELDS = [
  { key: 'power_w', unit: 'W', digits: 1 },
  { key: 'voltage', unit: 'V', digits: 1 },
  { key: 'current', unit: 'A', digits: 2 },
  { key: 'pf', unit: '', digits: 3 },
  { key: 'freq_hz', unit: 'Hz', digits: 2 },
  { key: 'energy_wh', unit: 'kWh', digits: 3, scale: 0.001 },
  { key: 'reactive_var', unit: 'var', digits: 1 },
  { key: 'apparent_va', unit: 'VA', digits: 1 },
  { key: 'thd_v', unit: '%', digits: 2 },
  { key: 'thd_i', unit: '%', digits: 2 }
]

// For a three-phase reading voltage and current are the means of the phases, power the total.
const THREE_PHASE_LABELS = { power_w: 'field.total_power_w', voltage: 'field.mean_voltage', current: 'field.mean_current' }

// The relay as the meter last reported it ("on", "off", or null before any report).
function relayView(relay) {
  const known = relay === 'on' || relay === 'off'
  return {
    relay: known ? relay : 'unknown',
    relayText: known ? i18n.t('relay.' + relay) : '--',
    cutOff: relay === 'off'
  }
}

function liveValues(latest) {
  if (!latest) return []
  const three = phases.isThreePhase(latest)
  return FIELDS.filter(f => typeof latest[f.key] === 'number').map(f => ({
    key: f.key,
    label: i18n.t((three && THREE_PHASE_LABELS[f.key]) || 'field.' + f.key),
    unit: f.unit,
    value: format.formatNumber(latest[f.key] * (f.scale || 1), f.digits)
  }))
}

Component({
  data: {
    id: '',
    s: {},
    status: 'unknown',
    statusText: '',
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
    error: '',
    ranges: [],
    metrics: [],
    range: '24h',
    metric: 'power',
    historyLoading: false,
    historyError: '',
    chartEmpty: false
  },

  lifetimes: {
    attached() {
      this.setData({
        s: i18n.section('device', { seconds: config.refreshSeconds }),
        statusText: alarms.statusText('unknown'),
        ranges: chart.choices(chart.RANGES),
        metrics: chart.choices(chart.METRICS)
      })
    }
  },

  methods: {
    onLoad(options) {
      const id = decodeURIComponent((options && options.id) || '')
      this.deviceId = id
      this.historySeq = 0
      this.rows = []
      this.setData({ id })
      i18n.setTitle(id || i18n.t('device.title'))
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
        const status = alarms.statusOf(d.status)
        this.setData(Object.assign(phases.view(d.latest), relayView(d.relay), {
          status,
          statusText: alarms.statusText(status),
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
