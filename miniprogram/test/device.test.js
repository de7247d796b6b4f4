const { installWx, loginAs, ok, error, flush, waitFor } = require('./helpers/wx-mock.js')
const { render, text, pageText, tap } = require('./helpers/page.js')
const { createCanvas } = require('./helpers/canvas.js')
const chart = require('../utils/chart.js')

const DEVICE = {
  status: 'success', device_id: 'meter-01', balance: 1150.35, status: 'online',
  status_at: '2026-11-23T18:46:00.591Z', created_at: '2026-11-23T18:44:37.928Z',
  latest: {
    timestamp: '2026-11-23T18:46:02.000Z', seq: 502, voltage: 230.3, current: 3.2, power_w: 736.96,
    pf: 0.98, freq_hz: 50.01, energy_wh: 12364.9
  }
}

// Buckets as GET /api/device/data/:id?interval= answers them: newest first.
const BUCKETS = [
  {
    timestamp: '2026-11-23T10:30:00.000Z', count: 3, voltage: 231.04, voltage_min: 230.9, voltage_max: 231.2,
    current: 5.5, current_min: 5.4, current_max: 5.6, power_w: 1270.44, power_w_min: 1250, power_w_max: 1290.07, energy_wh: 12400.5
  },
  {
    timestamp: '2026-11-23T10:15:00.000Z', count: 3, voltage: 230.5, voltage_min: 230.1, voltage_max: 230.9,
    current: 5.1, current_min: 5, current_max: 5.2, power_w: 1175, power_w_min: 1150, power_w_max: 1200, energy_wh: 12364.9
  },
  {
    timestamp: '2026-11-23T10:00:00.000Z', count: 2, voltage: 229.8, voltage_min: 229.8, voltage_max: 229.8,
    current: 4.9, current_min: 4.9, current_max: 4.9, power_w: 1102.5, power_w_min: 1102.5, power_w_max: 1102.5, energy_wh: 12345.678
  }
]

let env
let canvas
let intervals

beforeEach(() => {
  env = installWx()
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/devices/meter-01'] = ok(DEVICE)
  env.routes['GET /api/device/data/meter-01'] = ok(BUCKETS)
  canvas = createCanvas(320, 240)
  jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(canvas))
  intervals = []
  jest.spyOn(global, 'setInterval').mockImplementation((fn, ms) => {
    intervals.push({ fn, ms, cleared: false })
    return intervals.length
  })
  jest.spyOn(global, 'clearInterval').mockImplementation(id => {
    if (intervals[id - 1]) intervals[id - 1].cleared = true
  })
})

afterEach(() => {
  jest.restoreAllMocks()
})

async function open() {
  const page = render('device')
  await page.instance.onLoad({ id: 'meter-01' })
  await page.instance.onShow()
  return page
}

test('shows the balance and the latest values', async () => {
  const page = await open()
  expect(env.wx.setNavigationBarTitle).toHaveBeenCalledWith(expect.objectContaining({ title: 'meter-01' }))
  expect(text(page, '#balance')).toBe('¥1150.35')
  expect(text(page, '#value-power_w')).toBe('有功功率737.0 W')
  expect(text(page, '#value-voltage')).toBe('电压230.3 V')
  expect(text(page, '#value-current')).toBe('电流3.20 A')
  expect(text(page, '#value-pf')).toBe('功率因数0.980')
  expect(text(page, '#value-freq_hz')).toBe('频率50.01 Hz')
  expect(text(page, '#value-energy_wh')).toBe('累计电能12.365 kWh')
  // fields the reading did not carry are not shown
  expect(page.querySelector('#value-thd_v')).toBeFalsy()
  expect(pageText(page)).toContain('读数时间：2026-11-24 02:46:02')
  expect(pageText(page)).toContain('在线')
})

test('asks the API for 24 h of 15-minute buckets and charts them oldest first', async () => {
  const before = Date.now()
  const page = await open()
  const req = env.requests.find(r => r.path === '/api/device/data/meter-01')
  expect(req.query.interval).toBe('15m')
  expect(req.query.limit).toBe('96')
  const from = new Date(req.query.from).getTime()
  expect(from).toBeGreaterThanOrEqual(before - 24 * 3600 * 1000 - 1000)
  expect(from).toBeLessThanOrEqual(Date.now() - 24 * 3600 * 1000 + 1000)
  expect(req.query.from).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)

  // What uCharts was given (the real library, drawing on a canvas 2d context).
  const opts = page.instance.chartInstance.opts
  expect(opts.type).toBe('line')
  expect(opts.canvas2d).toBe(true)
  expect(opts.context).toBe(canvas.ctx)
  expect(opts.pixelRatio).toBe(3) // miniprogram-simulate's wx.getWindowInfo()
  expect(opts.width).toBe(960)
  expect(opts.height).toBe(720)
  expect(canvas.node.width).toBe(960)
  expect(canvas.node.height).toBe(720)
  expect(opts.categories).toEqual(['18:00', '18:15', '18:30']) // local time (UTC+8)
  expect(opts.series.map(s => s.name)).toEqual(['平均功率 (W)', '最大功率 (W)'])
  expect(opts.series[0].data).toEqual([1102.5, 1175, 1270.4])
  expect(opts.series[1].data).toEqual([1102.5, 1200, 1290.1])
  expect(page.data.chartEmpty).toBe(false)
  // uCharts really drew the lines and the time labels on the 2d context
  await waitFor(() => canvas.ctx.count('lineTo') > 0)
  await waitFor(() => canvas.ctx.texts().includes('18:15'))
})

test('range buttons ask for 1 h of minutes or 7 d of 2-hour buckets', async () => {
  const page = await open()
  env.requests.length = 0
  await tap(page, '#range-1h')
  await flush()
  expect(env.requests).toHaveLength(1)
  expect(env.requests[0].query.interval).toBe('1m')
  expect(env.requests[0].query.limit).toBe('60')
  expect(Date.now() - new Date(env.requests[0].query.from).getTime()).toBeGreaterThanOrEqual(3600 * 1000)
  expect(Date.now() - new Date(env.requests[0].query.from).getTime()).toBeLessThan(3600 * 1000 + 5000)
  expect(page.data.range).toBe('1h')

  await tap(page, '#range-7d')
  await flush()
  expect(env.requests).toHaveLength(2)
  expect(env.requests[1].query.interval).toBe('2h')
  expect(page.instance.chartInstance.opts.categories).toEqual(['23日18时', '23日18时', '23日18时'])
})

test('the voltage and energy buttons chart other series from the same rows', async () => {
  const page = await open()
  const n = env.requests.length
  await tap(page, '#metric-voltage')
  await flush()
  expect(env.requests).toHaveLength(n) // no new request: same buckets
  expect(page.instance.chartInstance.opts.series[0].data).toEqual([229.8, 230.5, 231])
  expect(page.instance.chartInstance.opts.series[1].data).toEqual([229.8, 230.9, 231.2])

  await tap(page, '#metric-energy')
  await flush()
  const opts = page.instance.chartInstance.opts
  expect(opts.type).toBe('column')
  // consumption per bucket in kWh: counter minus the previous bucket's
  expect(opts.categories).toEqual(['18:15', '18:30'])
  expect(opts.series[0].name).toBe('用电量 (kWh)')
  expect(opts.series[0].data).toEqual([0.019, 0.036])
})

test('an empty history says so', async () => {
  env.routes['GET /api/device/data/meter-01'] = ok([])
  const page = await open()
  expect(page.data.chartEmpty).toBe(true)
  expect(text(page, '#chart-empty')).toBe('该时间段内暂无数据')
})

test('live values refresh on a timer that stops on hide and unload', async () => {
  const page = await open()
  const live = intervals.filter(t => !t.cleared)
  expect(live).toHaveLength(1)
  expect(live[0].ms).toBe(5000)

  // a second onShow does not start a second timer
  await page.instance.onShow()
  expect(intervals.filter(t => !t.cleared)).toHaveLength(1)

  // a tick fetches the device again and shows the new values
  env.routes['GET /api/devices/meter-01'] = ok(Object.assign({}, DEVICE, {
    balance: 1100, latest: Object.assign({}, DEVICE.latest, { power_w: 2000 })
  }))
  const count = env.requests.length
  live[0].fn()
  await flush()
  expect(env.requests.length).toBe(count + 1)
  expect(text(page, '#balance')).toBe('¥1100.00')
  expect(text(page, '#value-power_w')).toBe('有功功率2000.0 W')

  page.instance.onHide()
  expect(intervals.every(t => t.cleared)).toBe(true)

  await page.instance.onShow()
  expect(intervals.filter(t => !t.cleared)).toHaveLength(1)
  page.instance.onUnload()
  expect(intervals.every(t => t.cleared)).toBe(true)
})

test('a device the user may not see shows the message and stops refreshing', async () => {
  env.routes['GET /api/devices/meter-01'] = error(404, 'device not found')
  env.routes['GET /api/device/data/meter-01'] = error(404, 'device not found')
  const page = await open()
  expect(text(page, '#error')).toBe('设备不存在，或您无权查看该设备')
  expect(intervals.every(t => t.cleared)).toBe(true)
})

test('the recharge button opens the recharge page for this device', async () => {
  const page = await open()
  await tap(page, '#recharge')
  expect(env.navigations).toEqual([{ kind: 'navigateTo', url: '/pages/recharge/index?id=meter-01' }])
})

test('no canvas node yet: nothing is drawn and nothing breaks', async () => {
  chart.queryCanvas.mockImplementation(() => Promise.resolve(null))
  const page = await open()
  expect(page.instance.chartInstance).toBeUndefined()
  expect(page.instance.chartData.series[0].data).toEqual([1102.5, 1175, 1270.4])
})
