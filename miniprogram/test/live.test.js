// The pages' own code against a real meter-server: login, device list, device detail with
// its history chart (and a three-phase meter's per-phase values), the server's alarms (a real
// over-voltage, acknowledged by an operator; another raised and cleared while the alarm tab
// follows the live stream, which closes when the tab hides), and recharges
// (a user's online payment where the server has none configured, an operator's counter
// recharge retried after a lost answer without crediting twice). wx.request is carried over node's http.
//
// METER_SERVER names the meter-server binary (ctest sets it). Without it this file is
// skipped, and says so.

const { installWx, waitFor } = require('./helpers/wx-mock.js')
const { render, text, texts, type, tap } = require('./helpers/page.js')
const { createCanvas } = require('./helpers/canvas.js')
const { createRequest } = require('./helpers/node-request.js')
const { startMeterServer } = require('./helpers/meter-server.js')
const config = require('../config.js')
const chart = require('../utils/chart.js')

const BINARY = process.env.METER_SERVER

if (!BINARY) {
  // eslint-disable-next-line no-console
  console.warn('live.test.js skipped: set METER_SERVER to the meter-server binary to run the pages against a real server')
}

const describeLive = BINARY ? describe : describe.skip

describeLive('pages against a running meter-server', () => {
  let server
  let env
  let request
  const now = Date.now()
  // Four readings a few minutes apart within the last hour, oldest first.
  const readings = [40, 25, 10, 2].map((minutesAgo, i) => ({
    device_id: 'meter-01',
    seq: i + 1,
    ts: new Date(now - minutesAgo * 60 * 1000).toISOString(),
    voltage: 229 + i,
    current: 4 + i,
    power_w: 900 + 100 * i,
    pf: 0.98,
    freq_hz: 50.01,
    energy_wh: 1000 + 250 * i
  }))

  // A three-phase meter's reading (docs/protocol.md, "Three-phase readings"), phases swapped.
  const threePhase = {
    device_id: 'meter-3p', seq: 1, ts: new Date(now - 60 * 1000).toISOString(), wiring: '3p4w', sequence: 'acb',
    voltage: 228.83, current: 10.5, power_w: 6479.62,
    voltage_a: 231.2, voltage_b: 228.4, voltage_c: 226.9,
    current_a: 10.5, current_b: 12.6, current_c: 8.4, current_n: 3.7,
    power_w_a: 2200.15, power_w_b: 2466.83, power_w_c: 1812.64
  }

  beforeAll(async () => {
    server = await startMeterServer(BINARY, {
      users: [
        { name: 'counter', role: 'operator', password: 'counter-password' },
        { name: 'alice', role: 'user', password: 'alice-password' },
        { name: 'bob', role: 'user', password: 'bob-password' }
      ],
      devices: [
        { id: 'meter-01', owner: 'alice' },
        { id: 'meter-02', owner: 'alice' },
        { id: 'meter-3p', owner: 'bob' }
      ],
      // A waiting stream learns that its client left when it next writes: a keep-alive each
      // second makes /api/stats count a closed stream out within a second.
      args: ['--alarm-keepalive-s', '1']
    })
    const health = JSON.parse((await server.get('/api/health')).body)
    expect(health).toMatchObject({ status: 'ok', database: 'ok', mqtt: 'disconnected' })
    const up = await server.post('/api/device/data', readings, { Authorization: 'Bearer ' + server.secrets['meter-01'] })
    expect(up.statusCode).toBe(200)
    expect(up.body).toMatchObject({ status: 'success', stored: 4 })
    const up3 = await server.post('/api/device/data', threePhase, { Authorization: 'Bearer ' + server.secrets['meter-3p'] })
    expect(up3.statusCode).toBe(200)
    expect(up3.body).toMatchObject({ status: 'success', stored: 1 })
  }, 30000)

  afterAll(async () => {
    if (server) await server.stop()
  })

  beforeEach(() => {
    env = installWx()
    request = createRequest()
    env.wx.request = request
    config.apiBaseUrl = server.base
  })

  async function login(username, password) {
    const page = render('login')
    page.instance.onLoad({})
    await type(page, '#username', username)
    await type(page, '#password', password)
    await page.instance.onSubmit()
    return page
  }

  test('login: a wrong password shows the message, the right one stores a working token', async () => {
    const bad = await login('alice', 'not-her-password')
    expect(text(bad, '#error')).toBe('用户名或密码错误')
    expect(env.storage.has('smartmeter.token')).toBe(false)

    await login('alice', 'alice-password')
    expect(env.storage.get('smartmeter.token')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(env.storage.get('smartmeter.user')).toEqual({ username: 'alice', role: 'user' })
    expect(env.navigations).toEqual([{ kind: 'switchTab', url: '/pages/devices/index' }])
  })

  test('device list, device detail with history chart and a refused recharge, as the user', async () => {
    await login('alice', 'alice-password')

    const list = render('devices')
    await list.instance.onShow()
    const cards = texts(list, '.device')
    expect(cards).toHaveLength(2)
    expect(cards[0]).toContain('meter-01')
    expect(cards[0]).toContain('¥0.00')
    expect(cards[0]).toContain('1200.0 W') // the newest reading
    expect(cards[0]).toContain('232.0 V / 7.00 A')
    expect(cards[1]).toContain('meter-02')
    expect(cards[1]).toContain('暂无数据')

    const canvas = createCanvas(320, 240)
    const spy = jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(canvas))
    const timers = jest.spyOn(global, 'setInterval')
    try {
      const detail = render('device')
      await detail.instance.onLoad({ id: 'meter-01' })
      await detail.instance.onShow()
      expect(text(detail, '#balance')).toBe('¥0.00')
      expect(text(detail, '#value-power_w')).toBe('有功功率1200.0 W')
      expect(text(detail, '#value-energy_wh')).toBe('累计电能1.750 kWh')
      expect(timers).toHaveBeenCalledWith(expect.any(Function), config.refreshSeconds * 1000)

      // 24 h in 15-minute buckets: every reading is in one bucket or another
      const day = detail.instance.chartInstance.opts
      expect(day.canvas2d).toBe(true)
      expect(day.series[0].data.length).toBeGreaterThanOrEqual(2)
      expect(day.series[1].data).toContain(1200) // the peak of the newest bucket

      // 1 h in 1-minute buckets: one bucket per reading, oldest first
      await detail.instance.onRange({ currentTarget: { dataset: { range: '1h' } } })
      const hour = detail.instance.chartInstance.opts
      expect(hour.categories).toHaveLength(4)
      expect(hour.series[0].data).toEqual([900, 1000, 1100, 1200])
      const historyCall = request.log.filter(r => r.path.startsWith('/api/device/data/meter-01'))
      expect(historyCall[historyCall.length - 1].path).toMatch(/[?&]interval=1m(&|$)/)

      await detail.instance.onMetric({ currentTarget: { dataset: { metric: 'energy' } } })
      expect(detail.instance.chartInstance.opts.series[0].data).toEqual([0.25, 0.25, 0.25])

      detail.instance.onUnload()
      expect(detail.instance.timer).toBeNull()
    } finally {
      spy.mockRestore()
      timers.mockRestore()
    }

    const recharge = render('recharge')
    await recharge.instance.onLoad({ id: 'meter-01' })
    await type(recharge, '#amount', '100')
    await recharge.instance.onSubmit()
    // A tenant pays online; this server has no WeChat Pay configured, and says so.
    expect(text(recharge, '#error')).toBe('服务器尚未开通在线支付，请联系物业办理充值')
    expect(request.log.filter(r => r.method === 'POST' && r.path === '/api/devices/meter-01/payments').map(r => r.statusCode)).toEqual([503])
    expect(request.log.filter(r => r.path === '/api/device/recharge/meter-01')).toEqual([])
  })

  test('in English: the server\'s own words for a refused login and payment, English labels', async () => {
    env = installWx({ language: 'en' })
    env.wx.request = request
    const bad = await login('alice', 'not-her-password')
    expect(text(bad, '#error')).toBe('Invalid credentials')
    await login('alice', 'alice-password')

    const list = render('devices')
    await list.instance.onShow()
    const cards = texts(list, '.device')
    expect(cards[0]).toContain('Balance (yuan)')
    expect(cards[1]).toContain('Latest reading: No data yet')

    const spy = jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(createCanvas(320, 240)))
    const timers = jest.spyOn(global, 'setInterval').mockImplementation(() => 1)
    try {
      const detail = render('device')
      await detail.instance.onLoad({ id: 'meter-01' })
      await detail.instance.onShow()
      expect(text(detail, '#value-power_w')).toBe('Active power1200.0 W')
      expect(text(detail, '#range-24h')).toBe('24 h')
      expect(detail.instance.chartInstance.opts.series.map(x => x.name)).toEqual(['Mean Power (W)', 'Peak Power (W)'])
      detail.instance.onUnload()
    } finally {
      spy.mockRestore()
      timers.mockRestore()
    }

    const recharge = render('recharge')
    await recharge.instance.onLoad({ id: 'meter-01' })
    await type(recharge, '#amount', '100')
    await recharge.instance.onSubmit()
    expect(text(recharge, '#error')).toBe('online payment is not configured on this server')
  })

  test('a three-phase meter\'s page shows each phase as the server stored it', async () => {
    await login('bob', 'bob-password')
    const spy = jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(createCanvas(320, 240)))
    try {
      const detail = render('device')
      await detail.instance.onLoad({ id: 'meter-3p' })
      await detail.instance.onShow()
      expect(text(detail, '#wiring')).toBe('三相四线')
      expect(detail.data.phases).toEqual([
        { key: 'a', label: 'A 相', voltage: '231.2', current: '10.50', power: '2200.2' },
        { key: 'b', label: 'B 相', voltage: '228.4', current: '12.60', power: '2466.8' },
        { key: 'c', label: 'C 相', voltage: '226.9', current: '8.40', power: '1812.6' },
        { key: 'n', label: '中性线', voltage: '', current: '3.70', power: '' }
      ])
      expect(text(detail, '#sequence-wrong')).toContain('ACB')
      expect(text(detail, '#value-power_w')).toBe('总有功功率6479.6 W')
      detail.instance.onUnload()
    } finally {
      spy.mockRestore()
    }
  })

  // One call with the stored token, as the pages' wx.request makes it.
  function call(method, path, data) {
    return new Promise((resolve, reject) => {
      request({
        url: server.base + path, method, data,
        header: { Authorization: 'Bearer ' + env.storage.get('smartmeter.token'), 'Content-Type': 'application/json' },
        success: res => resolve(res), fail: reject
      })
    })
  }

  test('a real alarm: raised by the server, listed for the tenant, acknowledged with a note by an operator', async () => {
    // The operator lowers meter-01's over-voltage limit below what it measures, at once.
    await login('counter', 'counter-password')
    const put = await call('PUT', '/api/devices/meter-01/alarm-rules', { rules: { 'voltage.over': { limit: 225, min_duration_s: 0 } } })
    expect(put.statusCode).toBe(200)
    // The meter's next reading (232.5 V) crosses it.
    const next = Object.assign({}, readings[3], { seq: 10, ts: new Date().toISOString(), voltage: 232.5 })
    const up = await server.post('/api/device/data', next, { Authorization: 'Bearer ' + server.secrets['meter-01'] })
    expect(up.statusCode).toBe(200)
    let raised = null
    const end = Date.now() + 15000
    while (!raised && Date.now() < end) {
      const res = await call('GET', '/api/alarms?device=meter-01&state=open')
      raised = (res.data.alarms || []).find(a => a.kind === 'voltage.over') || null
      if (!raised) await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(raised).toMatchObject({ device_id: 'meter-01', state: 'raised', severity: 'major', value: 232.5, limit: 225, unit: 'V' })

    // alice, the tenant, sees it on the alarm tab, with no acknowledge button.
    await login('alice', 'alice-password')
    const mine = render('alarms')
    await mine.instance.onShow()
    const card = '#alarm-' + raised.id
    expect(text(mine, card)).toContain('过电压')
    expect(text(mine, card)).toContain('测量值 232.5 V，限值 225.0 V')
    expect(text(mine, card)).toContain('未确认')
    expect(mine.data.alarms[0].id).toBe(raised.id) // the open ones first
    await tap(mine, card + ' .head')
    expect(mine.querySelector('#ack')).toBeUndefined()
    mine.instance.onUnload() // its live stream closes

    // The operator acknowledges it with a note, in English.
    env = installWx({ language: 'en' })
    env.wx.request = request
    await login('counter', 'counter-password')
    const page = render('alarms')
    await page.instance.onShow()
    expect(text(page, card)).toContain('Over-voltage')
    expect(text(page, card)).toContain('Raised')
    await tap(page, card + ' .head')
    await type(page, '#ack-note', 'crew on the way')
    await tap(page, '#ack')
    await waitFor(() => !page.data.acking)
    expect(page.data.ackError).toBe('')
    expect(text(page, card)).toContain('Acknowledged')
    expect(text(page, '#details')).toContain('Acknowledged by counter at')
    expect(text(page, '#details')).toContain('Note: crew on the way')

    // The server keeps it: acknowledged, by whom, with the note; a second try is refused.
    const stored = await call('GET', '/api/alarms/' + raised.id)
    expect(stored.data.alarm).toMatchObject({ state: 'acknowledged', acknowledged_by: 'counter', note: 'crew on the way' })
    const again = await call('POST', '/api/alarms/' + raised.id + '/ack', {})
    expect(again.statusCode).toBe(409)
    page.instance.onUnload()
    expect(request.pending()).toEqual([])
  }, 30000)

  // meter-02's next reading, at this voltage, now.
  let seq02 = 100
  function reading02(voltage) {
    seq02++
    return server.post('/api/device/data', {
      device_id: 'meter-02', seq: seq02, ts: new Date().toISOString(), voltage, current: 3, power_w: 650, pf: 0.98, freq_hz: 50.01, energy_wh: 5000 + seq02
    }, { Authorization: 'Bearer ' + server.secrets['meter-02'] })
  }

  // GET /api/stats's count of open alarm streams, as the operator asks it.
  async function openStreams(token) {
    const res = await new Promise((resolve, reject) => {
      request({ url: server.base + '/api/stats', header: { Authorization: 'Bearer ' + token }, success: resolve, fail: reject })
    })
    expect(res.statusCode).toBe(200)
    return res.data.alarms.streams
  }

  async function streamsBecome(token, n) {
    const end = Date.now() + 10000
    let now = await openStreams(token)
    while (now !== n && Date.now() < end) {
      await new Promise(resolve => setTimeout(resolve, 50))
      now = await openStreams(token)
    }
    expect(now).toBe(n)
  }

  test('the alarm tab follows the live stream: raised and cleared show without reading the lists again', async () => {
    // Small pieces: the stream's bytes reach the page cut anywhere, as on a slow link.
    request = createRequest({ chunkBytes: 7 })
    env.wx.request = request
    await login('counter', 'counter-password')
    const put = await call('PUT', '/api/devices/meter-02/alarm-rules', { rules: { 'voltage.over': { limit: 225, min_duration_s: 0 } } })
    expect(put.statusCode).toBe(200)
    const rule = put.data.rules.find(r => r.kind === 'voltage.over')
    expect(rule).toMatchObject({ limit: 225, min_duration_s: 0 })
    expect(rule.hysteresis).toBeCloseTo(2.2, 6) // 1 % of 220 V: it clears at 222.8 V or below
    expect((await reading02(220)).statusCode).toBe(200) // below the limit: nothing

    await login('alice', 'alice-password')
    const page = render('alarms')
    await page.instance.onShow()
    const stream = request.log.find(r => r.path === '/api/alarms/stream')
    expect(stream.header.Authorization).toBe('Bearer ' + env.storage.get('smartmeter.token'))
    await waitFor(() => stream.statusCode === 200 && stream.chunks > 0, 10000) // the server's hello
    expect(page.data.alarms.some(a => a.deviceId === 'meter-02')).toBe(false)
    const openBefore = page.data.openCount
    // The count is the server's: every alarm alice may see, open and cleared.
    const all = (await call('GET', '/api/alarms?limit=1')).data.total
    expect(typeof all).toBe('number')
    expect(text(page, '#total')).toBe('共 ' + all + ' 条告警')
    const load = jest.spyOn(page.instance, 'load')
    const logged = request.log.length

    // A reading past the limit: the server raises, the page shows it from the stream alone.
    expect((await reading02(231.5)).statusCode).toBe(200)
    const live = () => page.data.alarms.find(a => a.deviceId === 'meter-02' && a.kind === 'voltage.over')
    await waitFor(() => live() && live().state === 'raised', 15000)
    const id = live().id
    expect(text(page, '#alarm-' + id)).toContain('过电压')
    expect(text(page, '#alarm-' + id)).toContain('测量值 231.5 V，限值 225.0 V')
    expect(page.data.openCount).toBe(openBefore + 1)
    expect(text(page, '#total')).toBe('共 ' + (all + 1) + ' 条告警')
    expect(page.data.alarms.findIndex(a => a.id === id)).toBeLessThan(page.data.openCount) // among the open ones
    await tap(page, '#alarm-' + id + ' .head')
    expect(page.data.expanded).toBe(id)

    // Back past the hysteresis band (220 V, at or below 225 − 2.2 V) it clears, and moves to
    // the top of the recent ones, still opened.
    expect((await reading02(220)).statusCode).toBe(200)
    await waitFor(() => live().state === 'cleared', 15000)
    expect(page.data.openCount).toBe(openBefore)
    expect(text(page, '#total')).toBe('共 ' + (all + 1) + ' 条告警')
    expect(page.data.alarms[page.data.openCount].id).toBe(id)
    expect(text(page, '#alarm-' + id)).toContain('已恢复')
    expect(page.data.expanded).toBe(id)
    expect(text(page, '#details')).toContain('恢复')

    // Nothing but the stream brought it: no new request at all, no load().
    expect(load).not.toHaveBeenCalled()
    expect(request.log.slice(logged)).toEqual([])
    expect(stream.done).toBe(false)
    page.instance.onUnload()
    expect(stream.aborted).toBe(true)
    expect(request.pending()).toEqual([])
  }, 40000)

  test('the stream closes when the alarm tab hides and opens again when it shows', async () => {
    await login('counter', 'counter-password')
    const token = env.storage.get('smartmeter.token')
    await streamsBecome(token, 0)
    const page = render('alarms')
    await page.instance.onShow()
    await streamsBecome(token, 1)
    page.instance.onHide()
    expect(request.log.filter(r => r.path === '/api/alarms/stream').map(r => r.aborted)).toEqual([true])
    await streamsBecome(token, 0)
    await page.instance.onShow()
    await streamsBecome(token, 1)
    page.instance.onUnload()
    await streamsBecome(token, 0)
    expect(request.pending()).toEqual([])
  }, 40000)

  test('an operator recharges; a retry after a lost answer credits once', async () => {
    await login('counter', 'counter-password')
    expect(env.storage.get('smartmeter.user')).toEqual({ username: 'counter', role: 'operator' })

    const page = render('recharge')
    await page.instance.onLoad({ id: 'meter-01' })
    expect(text(page, '#balance')).toBe('¥0.00')
    await type(page, '#amount', '50.25')
    await page.instance.onSubmit()
    expect(text(page, '#new-balance')).toBe('¥50.25')
    expect(text(page, '#balance')).toBe('¥50.25')

    // The server credits 10.10 but the phone never hears back; the person taps again.
    request.loseNextResponse()
    await type(page, '#amount', '10.10')
    await page.instance.onSubmit()
    expect(text(page, '#error')).toBe('请求超时，请检查网络后重试（可直接重试，不会重复充值）')
    await page.instance.onSubmit()
    expect(text(page, '#new-balance')).toBe('¥60.35')

    const posts = request.log.filter(r => r.method === 'POST' && r.path === '/api/device/recharge/meter-01')
    expect(posts.map(r => r.statusCode)).toEqual([200, 200, 200])
    expect(posts[2].header['Idempotency-Key']).toBe(posts[1].header['Idempotency-Key'])
    expect(posts[1].header['Idempotency-Key']).not.toBe(posts[0].header['Idempotency-Key'])

    // The ledger holds two recharges, not three.
    const ledger = await new Promise((resolve, reject) => {
      request({
        url: server.base + '/api/devices/meter-01/ledger',
        header: { Authorization: 'Bearer ' + env.storage.get('smartmeter.token') },
        success: res => resolve(res.data),
        fail: reject
      })
    })
    expect(ledger.balance).toBe(60.35)
    expect(ledger.entries.map(e => e.amount)).toEqual([10.1, 50.25])

    const list = render('devices')
    await list.instance.onShow()
    expect(texts(list, '.device')[0]).toContain('¥60.35')
  })
})

if (!BINARY) {
  test.skip('live test needs METER_SERVER (path of the meter-server binary)', () => {})
}
