const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, texts, text, pageText, tap } = require('./helpers/page.js')

const DEVICES = {
  status: 'success',
  devices: [
    {
      device_id: 'demo', balance: 0.1, status: 'offline', status_at: '2026-11-23T18:46:18.698Z',
      latest: { timestamp: '2026-11-23T18:46:10.192Z', seq: 16, voltage: 230, current: 10, power_w: 2300, energy_wh: 10.221 }
    },
    {
      device_id: 'meter-01', balance: 1150.35, status: 'online', status_at: '2026-11-23T18:46:00.591Z',
      latest: { timestamp: '2026-11-23T18:46:30.000Z', seq: 600, voltage: 231, current: 2 }
    },
    { device_id: 'meter-02', balance: 100, status: 'unknown', status_at: null, latest: null }
  ]
}

let env
beforeEach(() => {
  env = installWx()
  loginAs(env, 'alice', 'user')
})

test('lists every device with its balance, status and latest reading', async () => {
  env.routes['GET /api/devices'] = ok(DEVICES)
  const page = render('devices')
  await page.instance.onShow()

  expect(env.requests).toHaveLength(1)
  expect(env.requests[0].header.Authorization).toBe('Bearer test-token-alice')
  const cards = texts(page, '.device')
  expect(cards).toHaveLength(3)
  // demo: offline, 0.10 yuan (low), 2300 W, shown in China time
  expect(cards[0]).toContain('demo')
  expect(cards[0]).toContain('离线')
  expect(cards[0]).toContain('¥0.10')
  expect(cards[0]).toContain('2300.0 W')
  expect(cards[0]).toContain('230.0 V / 10.00 A')
  expect(cards[0]).toContain('2026-11-24 02:46:10')
  // meter-01: online, two decimals always, no power field → --
  expect(cards[1]).toContain('meter-01')
  expect(cards[1]).toContain('在线')
  expect(cards[1]).toContain('¥1150.35')
  expect(cards[1]).toContain('功率--')
  // meter-02: never heard from
  expect(cards[2]).toContain('未知')
  expect(cards[2]).toContain('¥100.00')
  expect(cards[2]).toContain('暂无数据')

  expect(page.data.devices.map(d => d.lowBalance)).toEqual([true, false, false])
})

test('tapping a device opens its page', async () => {
  env.routes['GET /api/devices'] = ok(DEVICES)
  const page = render('devices')
  await page.instance.onShow()
  await tap(page, '.device')
  expect(env.navigations).toEqual([{ kind: 'navigateTo', url: '/pages/device/index?id=demo' }])
})

test('an account without devices is told so', async () => {
  env.routes['GET /api/devices'] = ok({ status: 'success', devices: [] })
  const page = render('devices')
  await page.instance.onShow()
  expect(pageText(page)).toContain('暂无设备')
})

test('pull-down refresh reloads and stops the spinner', async () => {
  env.routes['GET /api/devices'] = ok(DEVICES)
  const page = render('devices')
  await page.instance.onPullDownRefresh()
  expect(env.requests).toHaveLength(1)
  expect(env.wx.stopPullDownRefresh).toHaveBeenCalled()
})

test('an expired token goes back to the login page and forgets the session', async () => {
  env.routes['GET /api/devices'] = error(401, 'token expired')
  const page = render('devices')
  await page.instance.onShow()
  expect(env.navigations).toEqual([{ kind: 'reLaunch', url: '/pages/login/index' }])
  expect(env.storage.has('smartmeter.token')).toBe(false)
  expect(env.storage.has('smartmeter.user')).toBe(false)
})

test('no session: no request, straight to login', async () => {
  env.storage.clear()
  const page = render('devices')
  await page.instance.onShow()
  expect(env.requests).toHaveLength(0)
  expect(env.navigations).toEqual([{ kind: 'reLaunch', url: '/pages/login/index' }])
})

test('a server error shows its message', async () => {
  env.routes['GET /api/devices'] = error(503, 'database unavailable, try again shortly', { 'Retry-After': '5' })
  const page = render('devices')
  await page.instance.onShow()
  expect(text(page, '#error')).toBe('服务器数据库暂时不可用，请稍后重试')
})

test('an answer that is not the API error shape still gives a message', async () => {
  env.routes['GET /api/devices'] = { statusCode: 502, data: '<html>Bad Gateway</html>' }
  const page = render('devices')
  await page.instance.onShow()
  expect(text(page, '#error')).toBe('服务器暂时不可用（HTTP 502），请稍后重试')
})
