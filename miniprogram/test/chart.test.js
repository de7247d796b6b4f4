const chart = require('../utils/chart.js')
const { createCanvas } = require('./helpers/canvas.js')
const { waitFor } = require('./helpers/wx-mock.js')

const rows = [
  { timestamp: '2026-11-23T02:00:00.000Z', count: 1, voltage: 231, current: 5, power_w: 1155, energy_wh: 1000 },
  { timestamp: '2026-11-23T01:00:00.000Z', count: 1, voltage: 230, current: 4, energy_wh: 999000 },
  { timestamp: '2026-11-23T00:00:00.000Z', count: 1, voltage: 229, current: 3, power_w: 687, energy_wh: 998000 }
]

test('the npm package resolves to the uCharts class', () => {
  expect(typeof chart.UCharts).toBe('function')
  expect(typeof chart.UCharts.prototype.showToolTip).toBe('function')
  expect(typeof chart.UCharts.prototype.updateData).toBe('function')
})

test('historyQuery', () => {
  const now = Date.parse('2026-11-23T12:00:00.000Z')
  expect(chart.historyQuery('1h', now)).toEqual({ from: '2026-11-23T11:00:00.000Z', interval: '1m', limit: 60 })
  expect(chart.historyQuery('24h', now)).toEqual({ from: '2026-11-22T12:00:00.000Z', interval: '15m', limit: 96 })
  expect(chart.historyQuery('7d', now)).toEqual({ from: '2026-11-16T12:00:00.000Z', interval: '2h', limit: 84 })
  expect(chart.historyQuery('nonsense', now).interval).toBe('15m')
})

test('a missing measurement is a gap (null), not a zero', () => {
  const d = chart.buildChartData(rows, 'power', '24h')
  expect(d.categories).toEqual(['08:00', '09:00', '10:00'])
  expect(d.series[0].data).toEqual([687, null, 1155])
  expect(d.empty).toBe(false)
})

test('energy: consumption per bucket, nothing across a counter reset', () => {
  const d = chart.buildChartData(rows, 'energy', '24h')
  expect(d.type).toBe('column')
  expect(d.categories).toEqual(['09:00', '10:00'])
  expect(d.series[0].data).toEqual([1, null])
})

test('raw rows (no min/max) chart their value as the peak too', () => {
  const d = chart.buildChartData([{ timestamp: '2026-11-23T00:00:00.000Z', voltage: 230.04 }], 'voltage', '1h')
  expect(d.series[0].data).toEqual([230])
  expect(d.series[1].data).toEqual([230])
})

test('no rows, or rows without the field, are empty', () => {
  expect(chart.buildChartData([], 'power', '1h').empty).toBe(true)
  expect(chart.buildChartData([{ timestamp: '2026-11-23T00:00:00.000Z', voltage: 1 }], 'power', '1h').empty).toBe(true)
  expect(chart.buildChartData(null, 'power', '1h').empty).toBe(true)
})

test('uCharts draws on a canvas 2d context and answers touches', async () => {
  const canvas = createCanvas(300, 200)
  const data = chart.buildChartData(rows, 'power', '24h')
  const instance = chart.draw(canvas, data)
  await waitFor(() => canvas.ctx.count('stroke') > 0)
  expect(canvas.node.width).toBe(900) // 300 CSS px × pixelRatio 3
  expect(canvas.ctx.count('lineTo')).toBeGreaterThan(0)
  expect(canvas.ctx.texts()).toEqual(expect.arrayContaining(['08:00', '10:00']))
  // the legend carries the series names
  expect(canvas.ctx.texts()).toEqual(expect.arrayContaining(['平均功率 (W)', '最大功率 (W)']))
  // a tap on the chart shows the tooltip of the nearest point without throwing
  const before = canvas.ctx.calls.length
  instance.showToolTip({ changedTouches: [{ x: 290, y: 100 }], mp: {} })
  await waitFor(() => canvas.ctx.calls.length > before)
})

test('a column chart draws too', async () => {
  const canvas = createCanvas(300, 200)
  chart.draw(canvas, chart.buildChartData(rows.concat([]), 'energy', '7d'))
  await waitFor(() => canvas.ctx.count('fill') > 0)
})
