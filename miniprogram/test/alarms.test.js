const { installWx, loginAs, ok } = require('./helpers/wx-mock.js')
const { render, texts, text, tap } = require('./helpers/page.js')
const { computeAlarms } = require('../utils/alarms.js')

const now = Date.now()
const ago = minutes => new Date(now - minutes * 60 * 1000).toISOString()

const DEVICES = [
  // healthy: online, fresh data, enough money
  { device_id: 'a-ok', balance: 500, status: 'online', status_at: ago(60), latest: { timestamp: ago(1), seq: 1, voltage: 230, current: 1 } },
  // offline (its data is old too, which the offline alarm already says)
  { device_id: 'b-offline', balance: 300, status: 'offline', status_at: ago(90), latest: { timestamp: ago(95), seq: 9, voltage: 230, current: 1 } },
  // low balance, below the 50 yuan threshold
  { device_id: 'c-low', balance: 12.5, status: 'online', status_at: ago(10), latest: { timestamp: ago(2), seq: 3, voltage: 230, current: 1 } },
  // arrears
  { device_id: 'd-arrears', balance: 0, status: 'online', status_at: ago(10), latest: { timestamp: ago(2), seq: 3, voltage: 230, current: 1 } },
  // online but no reading for an hour
  { device_id: 'e-stale', balance: 100, status: 'online', status_at: ago(120), latest: { timestamp: ago(60), seq: 4, voltage: 230, current: 1 } },
  // registered, never sent anything
  { device_id: 'f-new', balance: 50, status: 'unknown', status_at: null, latest: null }
]

let env
beforeEach(() => {
  env = installWx()
  loginAs(env, 'counter', 'operator')
})

test('flags offline meters, low balance, arrears and stale or missing data', async () => {
  env.routes['GET /api/devices'] = ok({ status: 'success', devices: DEVICES })
  const page = render('alarms')
  await page.instance.onShow()

  const shown = page.data.alarms.map(a => a.deviceId + ' ' + a.kind)
  expect(shown).toEqual([
    'b-offline offline',
    'd-arrears arrears',
    'c-low low_balance',
    'e-stale stale',
    'f-new no_data'
  ])
  const cards = texts(page, '.alarm')
  expect(cards[0]).toContain('设备离线')
  expect(cards[0]).toContain('b-offline')
  expect(cards[1]).toContain('已欠费')
  expect(cards[1]).toContain('余额 ¥0.00')
  expect(cards[2]).toContain('余额不足')
  expect(cards[2]).toContain('余额 ¥12.50，低于 ¥50.00')
  expect(cards[3]).toContain('数据停滞')
  expect(cards[3]).toContain('1 小时前')
  expect(cards[4]).toContain('暂无数据')
  expect(cards.join(' ')).not.toContain('a-ok')

  expect(page.data.counts).toEqual({ offline: 1, balance: 2, data: 2 })
  expect(env.wx.setTabBarBadge).toHaveBeenCalledWith(expect.objectContaining({ index: 1, text: '5' }))
})

test('tapping an alarm opens the device', async () => {
  env.routes['GET /api/devices'] = ok({ status: 'success', devices: DEVICES })
  const page = render('alarms')
  await page.instance.onShow()
  await tap(page, '.alarm')
  expect(env.navigations).toEqual([{ kind: 'navigateTo', url: '/pages/device/index?id=b-offline' }])
})

test('all clear says so and clears the tab badge', async () => {
  env.routes['GET /api/devices'] = ok({ status: 'success', devices: [DEVICES[0]] })
  const page = render('alarms')
  await page.instance.onShow()
  expect(page.data.alarms).toEqual([])
  expect(text(page, '#all-clear')).toBe('全部 1 台设备运行正常')
  expect(env.wx.removeTabBarBadge).toHaveBeenCalled()
})

test('thresholds come from the options', () => {
  const dev = [{ device_id: 'x', balance: 80, status: 'online', latest: { timestamp: ago(20) } }]
  expect(computeAlarms(dev, { lowBalanceYuan: 50, staleMinutes: 30, now })).toEqual([])
  const kinds = computeAlarms(dev, { lowBalanceYuan: 100, staleMinutes: 15, now }).map(a => a.kind)
  expect(kinds).toEqual(['low_balance', 'stale'])
})
