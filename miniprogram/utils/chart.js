// 历史曲线：查询参数、数据整理和 uCharts 绘制。/ The history chart.
//
// The history comes downsampled from the API (GET /api/device/data/:id?from=&interval=):
// one bucket per interval with avg/min/max of each measurement and the largest energy
// counter. buildChartData() turns those rows into uCharts categories and series; draw()
// hands them to uCharts (npm package @qiun/ucharts) on a <canvas type="2d">.

const format = require('./format.js')
const i18n = require('./i18n.js')

// @qiun/ucharts ships an ES module (export default). DevTools' 构建 npm and jest both turn
// it into CommonJS; depending on the tool the class is the module itself or its default.
const uchartsModule = require('@qiun/ucharts')
const UCharts = uchartsModule && uchartsModule.default ? uchartsModule.default : uchartsModule

// Labels are keys of the string tables (utils/i18n.js): label() gives the words.
const RANGES = {
  '1h': { label: 'chart.range_1h', ms: 3600 * 1000, interval: '1m', limit: 60 },
  '24h': { label: 'chart.range_24h', ms: 24 * 3600 * 1000, interval: '15m', limit: 96 },
  '7d': { label: 'chart.range_7d', ms: 7 * 24 * 3600 * 1000, interval: '2h', limit: 84 }
}

const METRICS = {
  power: { label: 'chart.power', field: 'power_w', unit: 'W', digits: 1 },
  voltage: { label: 'chart.voltage', field: 'voltage', unit: 'V', digits: 1 },
  current: { label: 'chart.current', field: 'current', unit: 'A', digits: 2 },
  energy: { label: 'chart.energy', field: 'energy_wh', unit: 'kWh', digits: 3, delta: true }
}

const COLORS = ['#1f6feb', '#f59f00', '#2f9e44', '#e03131']

// [{key, label}] of RANGES or METRICS in the current language, for the page's tabs.
function choices(table) {
  return Object.keys(table).map(k => ({ key: k, label: i18n.t(table[k].label) }))
}

// Query parameters for a range ending now: {from, interval, limit}.
function historyQuery(rangeKey, now) {
  const r = RANGES[rangeKey] || RANGES['24h']
  const end = now === undefined ? Date.now() : now
  return { from: new Date(end - r.ms).toISOString(), interval: r.interval, limit: r.limit }
}

function round(v, digits) {
  if (typeof v !== 'number' || !isFinite(v)) return null
  const f = Math.pow(10, digits)
  return Math.round(v * f) / f
}

function label(ts, rangeKey) {
  return rangeKey === '7d' ? format.formatDayHour(ts) : format.formatClock(ts)
}

// Rows (newest first, as the API answers) → {type, categories, series, unit, empty}.
// Average and peak for power, voltage and current; for energy the consumption of each
// bucket in kWh (its counter minus the previous bucket's; nothing across a counter reset).
function buildChartData(rows, metricKey, rangeKey) {
  const metric = METRICS[metricKey] || METRICS.power
  const ordered = (Array.isArray(rows) ? rows : [])
    .filter(r => r && typeof r.timestamp === 'string')
    .slice()
    .sort((a, b) => (a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0))
  const categories = []
  const words = { metric: i18n.t(metric.label), unit: metric.unit }
  let series
  if (metric.delta) {
    const used = []
    let prev = null
    ordered.forEach(r => {
      const e = typeof r[metric.field] === 'number' ? r[metric.field] : null
      if (e !== null && prev !== null) {
        categories.push(label(r.timestamp, rangeKey))
        used.push(e >= prev ? round((e - prev) / 1000, metric.digits) : null)
      }
      if (e !== null) prev = e
    })
    series = [{ name: i18n.t('chart.total', words), data: used, color: COLORS[0] }]
  } else {
    const avg = []
    const max = []
    ordered.forEach(r => {
      categories.push(label(r.timestamp, rangeKey))
      avg.push(round(r[metric.field], metric.digits))
      const peak = r[metric.field + '_max'] !== undefined ? r[metric.field + '_max'] : r[metric.field]
      max.push(round(peak, metric.digits))
    })
    series = [
      { name: i18n.t('chart.average', words), data: avg, color: COLORS[0] },
      { name: i18n.t('chart.peak', words), data: max, color: COLORS[1] }
    ]
  }
  const empty = !series.some(s => s.data.some(v => v !== null))
  return { type: metric.delta ? 'column' : 'line', categories, series, unit: metric.unit, empty }
}

// The uCharts options for a canvas 2d context of width × height device pixels.
function chartOptions(ctx, width, height, pixelRatio, data) {
  return {
    type: data.type,
    context: ctx,
    canvas2d: true,
    width,
    height,
    pixelRatio,
    categories: data.categories,
    series: data.series,
    animation: false,
    background: '#FFFFFF',
    padding: [12, 24, 4, 4],
    fontSize: 11,
    dataLabel: false,
    dataPointShape: false,
    legend: { show: true, position: 'top', fontSize: 11 },
    xAxis: { disableGrid: true, labelCount: 5, fontSize: 10, boundaryGap: data.type === 'line' ? 'justify' : 'center' },
    yAxis: { gridType: 'dash', dashLength: 2, data: [{ min: 0, title: data.unit, tofix: 1 }] },
    extra: {
      line: { type: 'straight', width: 2 },
      column: { type: 'group', width: 8 },
      tooltip: { showBox: true }
    }
  }
}

function pixelRatio() {
  const info = typeof wx.getWindowInfo === 'function' ? wx.getWindowInfo() : wx.getSystemInfoSync()
  return (info && info.pixelRatio) || 2
}

// The canvas node and its CSS size: resolves {node, width, height}, or null if absent.
function queryCanvas(component, selector) {
  return new Promise(resolve => {
    component.createSelectorQuery()
      .select(selector)
      .fields({ node: true, size: true })
      .exec(res => {
        const r = res && res[0]
        resolve(r && r.node ? { node: r.node, width: r.width, height: r.height } : null)
      })
  })
}

// Draws data on a canvas found by queryCanvas(); returns the uCharts instance.
function draw(canvas, data) {
  const pr = pixelRatio()
  const width = Math.round(canvas.width * pr)
  const height = Math.round(canvas.height * pr)
  canvas.node.width = width
  canvas.node.height = height
  const ctx = canvas.node.getContext('2d')
  return new UCharts(chartOptions(ctx, width, height, pr, data))
}

module.exports = {
  RANGES,
  METRICS,
  UCharts,
  choices,
  historyQuery,
  buildChartData,
  chartOptions,
  queryCanvas,
  draw
}
