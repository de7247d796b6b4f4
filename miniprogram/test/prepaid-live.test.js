// The prepaid pages against a real meter-server: an operator sets a flat tariff and puts money
// on a meter, the meter uploads 2 kWh, the server's billing charges it; the tenant's cost and
// ledger page shows the charge, the recharge and the cost, and a meter that reports its relay
// off reads as cut off on its device page; then all of it on a phone in English. wx.request
// is carried over node's http.
//
// METER_SERVER names the meter-server binary (ctest sets it). Without it this file is
// skipped, and says so.

const { installWx } = require('./helpers/wx-mock.js')
const { render, text, texts, pageText } = require('./helpers/page.js')
const { createCanvas } = require('./helpers/canvas.js')
const { createRequest } = require('./helpers/node-request.js')
const { startMeterServer } = require('./helpers/meter-server.js')
const config = require('../config.js')
const api = require('../utils/api.js')
const chart = require('../utils/chart.js')

const BINARY = process.env.METER_SERVER

if (!BINARY) {
  // eslint-disable-next-line no-console
  console.warn('prepaid-live.test.js skipped: set METER_SERVER to the meter-server binary')
}

const describeLive = BINARY ? describe : describe.skip

describeLive('prepaid pages against a running meter-server', () => {
  let server
  let env
  const now = Date.now()

  beforeAll(async () => {
    server = await startMeterServer(BINARY, {
      users: [
        { name: 'counter', role: 'operator', password: 'counter-password' },
        { name: 'alice', role: 'user', password: 'alice-password' }
      ],
      devices: [
        { id: 'meter-p', owner: 'alice' },
        { id: 'meter-off', owner: 'alice' }
      ]
    })
  }, 30000)

  afterAll(async () => {
    if (server) await server.stop()
  })

  beforeEach(() => {
    env = installWx()
    env.wx.request = createRequest()
    config.apiBaseUrl = server.base
  })

  test('billing charges the uploaded energy; the cost and ledger page shows it', async () => {
    await api.login('counter', 'counter-password')
    const tariff = await api.request({
      method: 'PUT',
      path: '/api/devices/meter-p/tariff',
      data: { periods: [{ from: '00:00', price: '1.0000' }], effective_from: new Date(now - 2 * 3600 * 1000).toISOString() }
    })
    expect(tariff.periods).toEqual([expect.objectContaining({ from: '00:00', price: '1.0000' })])
    const credited = await api.recharge('meter-p', '20.00', api.newIdempotencyKey())
    expect(credited.new_balance).toBe(20)

    // 1000 Wh, then 2000 and 3000: 2 kWh at 1.0000 yuan/kWh is 2.00 yuan.
    const readings = [30, 20, 10].map((minutesAgo, i) => ({
      device_id: 'meter-p', seq: i + 1, ts: new Date(now - minutesAgo * 60 * 1000).toISOString(),
      voltage: 230, current: 4, power_w: 900, energy_wh: 1000 * (i + 1), relay: 'on'
    }))
    const up = await server.post('/api/device/data', readings, { Authorization: 'Bearer ' + server.secrets['meter-p'] })
    expect(up.statusCode).toBe(200)

    await api.login('alice', 'alice-password')
    // Billing charges within a second of the commit; ask until it has.
    const deadline = Date.now() + 10000
    let ledger = await api.ledger('meter-p', 50)
    while (ledger.balance !== 18 && Date.now() < deadline) {
      await new Promise(resolve => setTimeout(resolve, 100))
      ledger = await api.ledger('meter-p', 50)
    }
    expect(ledger.balance).toBe(18)

    const page = render('billing')
    await page.instance.onLoad({ id: 'meter-p' })
    expect(text(page, '#balance')).toBe('¥18.00')
    expect(text(page, '#total-cost')).toBe('¥2.00')
    const periods = [].concat(...page.data.buckets.map(b => b.periods))
    expect(periods.length).toBeGreaterThanOrEqual(1)
    periods.forEach(p => {
      expect(p.label).toBe('统一电价')
      expect(p.priceText).toBe('1.0000')
    })
    const kwh = periods.reduce((s, p) => s + Number(p.kwhText), 0)
    expect(kwh).toBeCloseTo(2, 3)

    const rows = texts(page, '.entry')
    expect(rows[rows.length - 1]).toMatch(/^柜台充值\+20\.00.*余额 ¥20\.00$/)
    const charges = page.data.entries.filter(e => e.kind === 'charge')
    expect(charges.length).toBeGreaterThanOrEqual(1)
    charges.forEach(e => expect(e.kindText).toBe('电费扣款'))
    expect(page.data.entries[0].balanceAfterText).toBe('18.00')
    const charged = charges.reduce((s, e) => s + Math.round(Number(e.amountText) * 100), 0)
    expect(charged).toBe(-200)
  })

  test('a meter that reports its relay off reads as cut off on its page', async () => {
    const up = await server.post('/api/device/data', {
      device_id: 'meter-off', seq: 1, ts: new Date(now - 60 * 1000).toISOString(),
      voltage: 230, current: 0, power_w: 0, energy_wh: 500, relay: 'off'
    }, { Authorization: 'Bearer ' + server.secrets['meter-off'] })
    expect(up.statusCode).toBe(200)

    await api.login('alice', 'alice-password')
    const spy = jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(createCanvas(320, 240)))
    const timers = jest.spyOn(global, 'setInterval').mockImplementation(() => 1)
    try {
      const detail = render('device')
      await detail.instance.onLoad({ id: 'meter-off' })
      await detail.instance.onShow()
      expect(text(detail, '#relay')).toBe('已断电')
      expect(text(detail, '#cutoff')).toBe('余额不足，电表已断电。充值后将自动恢复供电。')

      const on = render('device')
      await on.instance.onLoad({ id: 'meter-p' })
      await on.instance.onShow()
      expect(text(on, '#relay')).toBe('供电中')
      expect(on.querySelector('#cutoff')).toBeFalsy()
    } finally {
      spy.mockRestore()
      timers.mockRestore()
    }
  })

  test('in English: the same cost, ledger and cut-off, in English words', async () => {
    env = installWx({ language: 'en_US' })
    env.wx.request = createRequest()
    await api.login('alice', 'alice-password')
    const page = render('billing')
    await page.instance.onLoad({ id: 'meter-p' })
    expect(text(page, '#balance')).toBe('¥18.00')
    expect(text(page, '#total')).toBe('Last 30 days: ¥2.00')
    page.data.buckets.forEach(b => b.periods.forEach(p => expect(p.label).toBe('Flat rate')))
    expect(pageText(page)).toContain('1.0000 yuan/kWh')
    const rows = texts(page, '.entry')
    expect(rows[rows.length - 1]).toMatch(/^Counter recharge\+20\.00.*Balance ¥20\.00$/)
    expect(rows[0]).toMatch(/^Electricity charge-/)

    const spy = jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(createCanvas(320, 240)))
    const timers = jest.spyOn(global, 'setInterval').mockImplementation(() => 1)
    try {
      const detail = render('device')
      await detail.instance.onLoad({ id: 'meter-off' })
      await detail.instance.onShow()
      expect(text(detail, '#relay')).toBe('Cut off')
      expect(text(detail, '#cutoff')).toBe('The balance ran out and the meter has cut the supply. A recharge restores it automatically.')
    } finally {
      spy.mockRestore()
      timers.mockRestore()
    }
  })
})

if (!BINARY) {
  test.skip('prepaid live test needs METER_SERVER (path of the meter-server binary)', () => {})
}
