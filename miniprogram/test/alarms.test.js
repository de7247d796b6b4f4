// The alarm tab shows the server's alarms (GET /api/alarms): the open ones first, the most
// severe first, then the cleared ones page by page, and how many there are in all (the
// answers' total; none from a server without it); pull-down refresh; a tap opens the
// details; an operator acknowledges with a note, a user sees no button. Chinese and English.
// The phone derives no alarm itself: the device list is not even read.
const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, text, texts, tap, type } = require('./helpers/page.js')
const { OPEN, CLEARED } = require('./fixtures/alarms.js')
const format = require('../utils/format.js')

let env

// GET /api/alarms answered as the server would for state=open and state=cleared (with before=);
// options.total false answers as a server from before total.
function serve(open, cleared, options) {
  const total = n => (options && options.total === false ? {} : { total: n })
  env.routes['GET /api/alarms'] = req => {
    if (req.query.state === 'open') return ok(Object.assign({ status: 'success', alarms: open, next_before: open.length ? open[open.length - 1].id : null }, total(open.length)))
    expect(req.query.state).toBe('cleared')
    const limit = Number(req.query.limit)
    const older = req.query.before ? cleared.filter(a => a.id < Number(req.query.before)) : cleared
    const page = older.slice(0, limit)
    return ok(Object.assign({ status: 'success', alarms: page, next_before: page.length ? page[page.length - 1].id : null }, total(cleared.length)))
  }
}

function setUp(role, language) {
  env = installWx(language ? { language } : {})
  loginAs(env, role === 'user' ? 'alice' : 'op', role)
  serve(OPEN, CLEARED)
}

test('open alarms first, most severe first, then the recent ones; paging; no device list read', async () => {
  setUp('user')
  const page = render('alarms')
  await page.instance.onShow()
  const ids = page.data.alarms.map(a => a.id)
  expect(ids.slice(0, 4)).toEqual([30, 29, 31, 28]) // critical, major, then the minor ones newest first
  expect(ids.slice(4)).toEqual(CLEARED.slice(0, 20).map(a => a.id))
  expect(env.requests.some(r => r.path === '/api/devices')).toBe(false)

  const cards = texts(page, '.alarm')
  expect(cards[0]).toContain('设备离线')
  expect(cards[0]).toContain('严重')
  expect(cards[0]).toContain('meter-02')
  expect(cards[0]).toContain('测量值 12 min，限值 5 min')
  expect(cards[1]).toContain('过电压')
  expect(cards[1]).toContain('已确认')
  expect(cards[1]).toContain('测量值 250.4 V，限值 235.4 V')
  expect(cards[2]).toContain('功率因数低')
  expect(cards[2]).toContain('测量值 0.820，限值 0.900')
  expect(cards[3]).toContain('余额不足')
  expect(cards[3]).toContain('balance 3.20 below 10.00') // a condition: the server's message
  expect(cards[4]).toContain('欠电压')
  expect(cards[4]).toContain('已恢复')
  expect(page.querySelector('#alarm-30').dom.className).toContain('sev-critical')
  expect(page.querySelector('#alarm-31').dom.className).toContain('sev-minor')
  expect(text(page, '#raised-count')).toBe('3')
  expect(text(page, '#open-count')).toBe('4')
  expect(text(page, '#total')).toBe('共 27 条告警') // 4 open and 23 cleared, of which 20 are read
  expect(env.wx.setTabBarBadge).toHaveBeenCalledWith(expect.objectContaining({ index: 1, text: '3' }))

  // The next page of cleared ones, at the bottom.
  expect(page.data.nextBefore).toBe(8)
  await page.instance.onReachBottom()
  expect(page.data.alarms.map(a => a.id).slice(-3)).toEqual([7, 6, 5])
  expect(page.data.nextBefore).toBeNull()
  expect(page.querySelector('#more')).toBeUndefined()
  expect(text(page, '#total')).toBe('共 27 条告警')
  const last = env.requests.filter(r => r.path === '/api/alarms').pop()
  expect(last.query).toMatchObject({ state: 'cleared', before: '8', limit: '20' })
})

test('a tap opens the details; a user gets no acknowledge button', async () => {
  setUp('user')
  const page = render('alarms')
  await page.instance.onShow()
  await tap(page, '#alarm-29 .head')
  expect(page.data.expanded).toBe(29)
  const details = text(page, '#details')
  expect(details).toContain('over-voltage: 250.37 V above the limit 235.40 V')
  expect(details).toContain('站点：north')
  expect(details).toContain('op 于 ' + format.formatDateTime('2026-12-07T06:14:03.120Z') + ' 确认')
  expect(details).toContain('备注：crew on the way')
  await tap(page, '#open-device')
  expect(env.navigations).toEqual([{ kind: 'navigateTo', url: '/pages/device/index?id=meter-01' }])

  await tap(page, '#alarm-30 .head')
  expect(page.data.expanded).toBe(30)
  expect(page.querySelector('#ack')).toBeUndefined()
  expect(page.querySelector('#ack-note')).toBeUndefined()
})

test('an operator acknowledges with a note; the card follows', async () => {
  setUp('operator')
  let posted = null
  env.routes['POST /api/alarms/30/ack'] = req => {
    posted = req.data
    return ok({ status: 'success', alarm: Object.assign({}, OPEN[1], { state: 'acknowledged', acknowledged_by: 'op', acknowledged_at: '2026-12-07T06:20:00.000Z', note: req.data.note }) })
  }
  const page = render('alarms')
  await page.instance.onShow()
  await tap(page, '#alarm-30 .head')
  await type(page, '#ack-note', '  已派人处理  ')
  await tap(page, '#ack')
  expect(posted).toEqual({ note: '已派人处理' })
  expect(text(page, '#alarm-30')).toContain('已确认')
  expect(text(page, '#details')).toContain('备注：已派人处理')
  expect(page.querySelector('#ack')).toBeUndefined()
  expect(text(page, '#raised-count')).toBe('2')
  expect(env.wx.showToast).toHaveBeenCalledWith(expect.objectContaining({ title: '已确认' }))

  // Someone else was first: the server's 409 shows, in Chinese where known or as it is.
  env.routes['POST /api/alarms/31/ack'] = error(409, 'alarm 31 is acknowledged already')
  await tap(page, '#alarm-31 .head')
  await tap(page, '#ack')
  expect(text(page, '#ack-error')).toContain('alarm 31 is acknowledged already')
  // A note too long is refused here.
  await type(page, '#ack-note', '长'.repeat(86)) // 258 bytes of UTF-8
  const before = env.requests.length
  await tap(page, '#ack')
  expect(text(page, '#ack-error')).toBe('备注最多 255 字节')
  expect(env.requests.length).toBe(before)
})

test('pull-down refresh reads the server again; no alarms says so', async () => {
  setUp('user')
  serve([], [])
  const page = render('alarms')
  await page.instance.onShow()
  expect(text(page, '#all-clear')).toBe('暂无告警')
  expect(env.wx.removeTabBarBadge).toHaveBeenCalled()
  expect(text(page, '#total')).toBe('共 0 条告警')
  serve(OPEN, CLEARED.slice(0, 1))
  await page.instance.onPullDownRefresh()
  expect(page.data.alarms.map(a => a.id)).toEqual([30, 29, 31, 28, 27])
  expect(text(page, '#total')).toBe('共 5 条告警')
  expect(env.wx.stopPullDownRefresh).toHaveBeenCalled()
})

test('a server without total: the alarms as before, no count', async () => {
  setUp('user')
  serve(OPEN, CLEARED, { total: false })
  const page = render('alarms')
  await page.instance.onShow()
  expect(page.data.alarms).toHaveLength(24)
  expect(text(page, '#open-count')).toBe('4')
  expect(page.querySelector('#total')).toBeUndefined()
  await page.instance.onReachBottom()
  expect(page.data.alarms).toHaveLength(27)
  expect(page.querySelector('#total')).toBeUndefined()
})

test('a message opens the page at its alarm, read on its own when not listed', async () => {
  setUp('operator')
  serve([], [])
  env.routes['GET /api/alarms/99'] = ok({ status: 'success', alarm: Object.assign({}, OPEN[1], { id: 99 }) })
  const page = render('alarms')
  page.instance.onLoad({ id: '99' })
  await page.instance.onShow()
  expect(page.data.expanded).toBe(99)
  expect(text(page, '#details')).toContain('no reading for 12 minutes')
})

test('in English', async () => {
  setUp('operator', 'en')
  const page = render('alarms')
  await page.instance.onShow()
  expect(text(page, '#total')).toBe('27 alarms')
  const cards = texts(page, '.alarm')
  expect(cards[0]).toContain('Meter offline')
  expect(cards[0]).toContain('Critical')
  expect(cards[0]).toContain('Measured 12 min, limit 5 min')
  expect(cards[1]).toContain('Over-voltage')
  expect(cards[1]).toContain('Acknowledged')
  await tap(page, '#alarm-30 .head')
  expect(text(page, '#ack')).toBe('Acknowledge')
  expect(page.querySelector('#ack-note').dom.getAttribute('placeholder') || page.data.s.notePlaceholder).toContain('Note (optional)')
  await tap(page, '#alarm-29 .head')
  expect(text(page, '#details')).toContain('Acknowledged by op at')
  expect(text(page, '#details')).toContain('Note: crew on the way')
  expect(text(page, '#footer')).toContain('open ones come first')
  serve(OPEN.slice(0, 1), [])
  await page.instance.onPullDownRefresh()
  expect(text(page, '#total')).toBe('1 alarm')
})
