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

// A fleet of 120 meters behind a GET /api/devices that pages as the server does: a keyset on
// device_id, an opaque cursor, the total over all pages, filters combined with AND.
const FLEET = Array.from({ length: 120 }, (_, i) => ({
  device_id: 'm-' + String(i).padStart(3, '0'),
  name: i % 10 === 0 ? 'Pump ' + i : null,
  balance: i % 7 === 0 ? -3 : 80,
  status: i % 3 === 0 ? 'online' : 'offline',
  status_at: null,
  latest: null
}))

function pagingRoute(fleet) {
  return req => {
    const q = req.query
    const limit = Number(q.limit)
    if (!(limit >= 1 && limit <= 1000)) return error(400, 'limit must be an integer from 1 to 1000')
    let rows = fleet.filter(d => (!q.status || d.status === q.status) &&
      (!q.q || d.device_id.includes(q.q.toLowerCase()) || (d.name || '').toLowerCase().includes(q.q.toLowerCase())) &&
      (q.balance_below === undefined || d.balance < Number(q.balance_below)))
    const total = rows.length
    if (q.cursor) {
      const after = Buffer.from(q.cursor, 'hex').toString()
      rows = rows.filter(d => d.device_id > after)
    }
    const page = rows.slice(0, limit)
    const next = rows.length > limit ? Buffer.from(page[page.length - 1].device_id).toString('hex') : null
    return ok({ status: 'success', devices: page, total, limit, next_cursor: next })
  }
}

const SUMMARY = { status: 'success', total: 120, online: 40, offline: 80, unknown: 0, in_arrears: 18, with_open_alarms: 3, open_alarms: 4 }
const listed = () => env.requests.filter(r => r.path === '/api/devices')

describe('a fleet of 120, in pages of 20', () => {
  beforeEach(() => {
    loginAs(env, 'olga', 'operator')
    env.routes['GET /api/devices'] = pagingRoute(FLEET)
    env.routes['GET /api/devices/summary'] = ok(SUMMARY)
  })

  test('the first render shows 20, not 120, and the fleet counts', async () => {
    const page = render('devices')
    await page.instance.onShow()
    expect(listed()).toHaveLength(1)
    expect(listed()[0].query).toEqual({ limit: '20' })
    expect(texts(page, '.device')).toHaveLength(20)
    expect(texts(page, '.device-id')[19]).toBe('m-019')
    expect(text(page, '#shown')).toContain('已显示 20 / 共 120 台')
    expect(text(page, '#count-total')).toBe('120总数')
    expect(text(page, '#count-online')).toBe('40在线')
    expect(text(page, '#count-in_arrears')).toBe('18欠费')
  })

  test('reaching the bottom fetches the next page with the cursor, until the last', async () => {
    const page = render('devices')
    await page.instance.onShow()
    await page.instance.onReachBottom()
    expect(listed()[1].query).toEqual({ limit: '20', cursor: Buffer.from('m-019').toString('hex') })
    expect(texts(page, '.device')).toHaveLength(40)
    expect(texts(page, '.device-id')[20]).toBe('m-020')
    for (let i = 0; i < 6; i++) await page.instance.onReachBottom()
    const ids = texts(page, '.device-id')
    expect(ids).toHaveLength(120)
    expect(new Set(ids).size).toBe(120)
    expect(listed()).toHaveLength(6) // the last page said there is no next: no more asking
    expect(text(page, '#shown')).toContain('已全部显示')
  })

  test('pull-down starts again from the first page', async () => {
    const page = render('devices')
    await page.instance.onShow()
    await page.instance.onReachBottom()
    expect(texts(page, '.device')).toHaveLength(40)
    await page.instance.onPullDownRefresh()
    expect(listed()[2].query).toEqual({ limit: '20' })
    expect(texts(page, '.device')).toHaveLength(20)
    expect(env.wx.stopPullDownRefresh).toHaveBeenCalled()
  })

  test('coming back to the tab reads the pages in view again from their cursors', async () => {
    const page = render('devices')
    await page.instance.onShow()
    await page.instance.onReachBottom()
    await page.instance.onShow()
    expect(listed().slice(2).map(r => r.query.cursor)).toEqual([undefined, Buffer.from('m-019').toString('hex')])
    expect(texts(page, '.device')).toHaveLength(40)
  })

  test('a search narrows the list from its first page', async () => {
    const page = render('devices')
    await page.instance.onShow()
    await page.instance.onReachBottom()
    page.querySelector('#device-search').dispatchEvent('confirm', { detail: { value: 'pump' } })
    await new Promise(resolve => setTimeout(resolve, 20))
    const last = listed()[listed().length - 1]
    expect(last.query).toEqual({ limit: '20', q: 'pump' })
    const ids = texts(page, '.device-id')
    expect(ids).toHaveLength(12)
    expect(ids).toEqual(FLEET.filter(d => d.name).map(d => d.device_id))
    expect(text(page, '#shown')).toContain('共 12 台')
  })

  test('typing searches once it pauses, with one request', async () => {
    const page = render('devices')
    await page.instance.onShow()
    page.instance.onSearchInput({ detail: { value: 'm-11' } })
    page.instance.onSearchInput({ detail: { value: 'm-119' } })
    expect(listed()).toHaveLength(1)
    await new Promise(resolve => setTimeout(resolve, 500))
    expect(listed()).toHaveLength(2)
    expect(listed()[1].query.q).toBe('m-119')
    expect(texts(page, '.device-id')).toEqual(['m-119'])
  })

  test('tapping a count filters by it; tapping it again clears the filter', async () => {
    const page = render('devices')
    await page.instance.onShow()
    await tap(page, '#count-in_arrears')
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(listed()[listed().length - 1].query).toEqual({ limit: '20', balance_below: '0.01' })
    expect(texts(page, '.device')).toHaveLength(18)
    expect(text(page, '#filtered')).toContain('欠费')
    await tap(page, '#count-online')
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(listed()[listed().length - 1].query).toEqual({ limit: '20', status: 'online' })
    expect(text(page, '#shown')).toContain('共 40 台')
    await tap(page, '#count-online')
    await new Promise(resolve => setTimeout(resolve, 20))
    expect(listed()[listed().length - 1].query).toEqual({ limit: '20' })
    expect(page.querySelector('#filtered')).toBeFalsy()
  })

  test('a page that fails to load says so and the list stays', async () => {
    const page = render('devices')
    await page.instance.onShow()
    const paging = env.routes['GET /api/devices']
    env.routes['GET /api/devices'] = req => (req.query.cursor ? error(503, 'database unavailable, try again shortly') : paging(req))
    await page.instance.onReachBottom()
    expect(text(page, '#more-error')).toBe('服务器数据库暂时不可用，请稍后重试')
    expect(texts(page, '.device')).toHaveLength(20)
  })

  test('a user sees no fleet counts and the summary is not asked for', async () => {
    loginAs(env, 'alice', 'user')
    const page = render('devices')
    await page.instance.onShow()
    expect(page.querySelector('#fleet')).toBeFalsy()
    expect(texts(page, '.device')).toHaveLength(20)
    expect(env.requests.some(r => r.path === '/api/devices/summary')).toBe(false)
  })

  test('in English', async () => {
    env = installWx({ language: 'en' })
    loginAs(env, 'olga', 'operator')
    env.routes['GET /api/devices'] = pagingRoute(FLEET)
    env.routes['GET /api/devices/summary'] = ok(SUMMARY)
    const page = render('devices')
    await page.instance.onShow()
    expect(text(page, '#shown')).toContain('20 of 120 shown')
    expect(text(page, '#count-in_arrears')).toBe('18In arrears')
    expect(page.querySelector('#device-search').dom.getAttribute('placeholder') || page.data.s.searchPlaceholder).toBe('Search meter id or name')
  })
})
