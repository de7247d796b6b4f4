// The cost and ledger page: cost per day or month with its tariff periods, and the balance
// changes (counter recharges, WeChat payments, billing's charges) each with the balance after it.
const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, text, texts, pageText, tap } = require('./helpers/page.js')
const { DAY_ENERGY, MONTH_ENERGY, LEDGER } = require('./fixtures/prepaid.js')

let env

beforeEach(() => {
  env = installWx()
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/devices/meter-02/energy'] = req => ok(req.query.period === 'month' ? MONTH_ENERGY : DAY_ENERGY)
  env.routes['GET /api/devices/meter-02/ledger'] = ok(LEDGER)
})

async function open(id) {
  const page = render('billing')
  await page.instance.onLoad({ id: id || 'meter-02' })
  return page
}

test('asks for the daily cost and the ledger of the device', async () => {
  await open()
  const energy = env.requests.filter(r => r.path === '/api/devices/meter-02/energy')
  expect(energy).toHaveLength(1)
  expect(energy[0].query).toEqual({ period: 'day' })
  const ledger = env.requests.filter(r => r.path === '/api/devices/meter-02/ledger')
  expect(ledger).toHaveLength(1)
  expect(ledger[0].query).toEqual({ limit: '50' })
  expect(ledger[0].header.Authorization).toBe('Bearer test-token-alice')
})

test('daily cost: the total, the days with energy newest first, each split by tariff period', async () => {
  const page = await open()
  expect(text(page, '#total-cost')).toBe('¥12.20')
  expect(pageText(page)).toContain('近 30 天合计')
  // the day without energy or cost is left out
  expect(page.data.buckets.map(b => b.date)).toEqual(['2026-12-07', '2026-12-06'])
  expect(page.querySelector('#bucket-2026-12-05')).toBeFalsy()
  expect(page.data.buckets[1]).toEqual({
    date: '2026-12-06',
    kwhText: '12.346',
    costText: '9.08',
    periods: [
      { key: 0, label: '谷', priceText: '0.3125', kwhText: '4.000', costText: '1.25' },
      { key: 1, label: '峰', priceText: '1.0237', kwhText: '5.346', costText: '5.47' },
      { key: 2, label: '平', priceText: '0.6418', kwhText: '3.000', costText: '1.93' }
    ]
  })
  const day = text(page, '#bucket-2026-12-06')
  expect(day).toContain('2026-12-06')
  expect(day).toContain('12.346 kWh')
  expect(day).toContain('¥9.08')
  expect(day).toContain('峰1.0237 元/kWh5.346 kWh¥5.47') // the text nodes, as rendered side by side
  expect(day).toContain('谷0.3125 元/kWh4.000 kWh¥1.25')
})

test('the month tab asks for months; a period without a label reads 统一电价', async () => {
  const page = await open()
  env.requests.length = 0
  await tap(page, '#period-month')
  expect(env.requests.map(r => r.path + ' ' + r.query.period)).toEqual(['/api/devices/meter-02/energy month'])
  expect(page.data.period).toBe('month')
  expect(text(page, '#total-cost')).toBe('¥312.50')
  expect(pageText(page)).toContain('近 12 个月合计')
  expect(page.data.buckets.map(b => b.date)).toEqual(['2026-12', '2026-11'])
  expect(text(page, '#bucket-2026-11')).toContain('统一电价0.7508 元/kWh400.000 kWh¥300.30')
  expect(text(page, '#bucket-2026-12')).toContain('峰1.0237 元/kWh8.396 kWh¥8.59')

  // tapping the tab already shown asks for nothing
  env.requests.length = 0
  await tap(page, '#period-month')
  expect(env.requests).toEqual([])
  await tap(page, '#period-day')
  expect(env.requests.map(r => r.query.period)).toEqual(['day'])
  expect(text(page, '#total-cost')).toBe('¥12.20')
})

test('the ledger: recharges, payments and charges with their sign and the balance after each', async () => {
  const page = await open()
  expect(text(page, '#balance')).toBe('¥37.80')
  const rows = texts(page, '.entry')
  expect(rows).toEqual([
    '电费扣款-3.122026-12-07 12:00:00余额 ¥37.80',
    '微信支付+30.002026-12-06 20:15:21余额 ¥40.92',
    '电费扣款-9.082026-12-06 18:00:00余额 ¥10.92',
    '柜台充值+20.002026-12-05 10:00:00余额 ¥20.00' // local time (UTC+8)
  ])
  expect(page.querySelectorAll('.entry-charge')).toHaveLength(2)
  expect(page.querySelectorAll('.entry-payment')).toHaveLength(1)
  expect(page.querySelectorAll('.entry-recharge')).toHaveLength(1)
  expect(page.data.entries.map(e => e.negative)).toEqual([true, false, true, false])
})

test('no tariff yet and no money put on: says so for both', async () => {
  env.routes['GET /api/devices/meter-02/energy'] = ok({
    device_id: 'meter-02', timezone: 'Asia/Shanghai', period: 'day', cost: 0,
    buckets: [{ date: '2026-12-07', start: '2026-12-06T16:00:00.000Z', energy_wh: 0, export_wh: 0, readings: 0, cost: 0, periods: [] }]
  })
  env.routes['GET /api/devices/meter-02/ledger'] = ok({ status: 'success', device_id: 'meter-02', balance: 0, entries: [] })
  const page = await open()
  expect(text(page, '#total-cost')).toBe('¥0.00')
  expect(text(page, '#cost-empty')).toBe('暂无用电和电费记录')
  expect(text(page, '#ledger-empty')).toBe('暂无流水')
  expect(text(page, '#balance')).toBe('¥0.00')
})

test('errors are shown in Chinese, each in its own card', async () => {
  env.routes['GET /api/devices/meter-02/energy'] = error(503, 'database unavailable, try again shortly')
  env.routes['GET /api/devices/meter-02/ledger'] = error(404, 'device not found')
  const page = await open()
  expect(text(page, '#cost-error')).toBe('服务器数据库暂时不可用，请稍后重试')
  expect(text(page, '#ledger-error')).toBe('设备不存在，或您无权查看该设备')
  expect(text(page, '#total-cost')).toBe('¥--')
})
