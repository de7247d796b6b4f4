// The live alarm stream: api.openAlarmStream over wx.request with enableChunked (reconnects,
// Retry-After, 401, old base libraries), and the alarm tab following it while shown.
const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, text, tap } = require('./helpers/page.js')
const { alarm, OPEN, CLEARED } = require('./fixtures/alarms.js')
const api = require('../utils/api.js')
const config = require('../config.js')

let env

// Lets the mock's answers (promise callbacks) run; works under fake timers too.
async function ticks() {
  for (let i = 0; i < 20; i++) await Promise.resolve()
}

// One SSE event as server/alarms/hub.c writes it.
const event = a => 'id: ' + a.id + '\nevent: alarm\ndata: ' + JSON.stringify(a) + '\n\n'

function setUp(role, options) {
  env = installWx(options)
  loginAs(env, role === 'user' ? 'alice' : 'op', role)
  env.routes['GET /api/alarms'] = req => {
    if (req.query.state === 'open') return ok({ status: 'success', alarms: OPEN, next_before: null, total: OPEN.length })
    const older = req.query.before ? CLEARED.filter(a => a.id < Number(req.query.before)) : CLEARED
    const page = older.slice(0, Number(req.query.limit))
    return ok({ status: 'success', alarms: page, next_before: page.length ? page[page.length - 1].id : null, total: CLEARED.length })
  }
}

const streamRequests = () => env.requests.filter(r => r.path === '/api/alarms/stream')
const listRequests = () => env.requests.filter(r => r.path === '/api/alarms')

afterEach(() => {
  jest.useRealTimers()
})

describe('api.openAlarmStream', () => {
  test('asks for the stream with the token, chunked, as bytes, with a long timeout', async () => {
    setUp('user')
    const got = []
    const s = api.openAlarmStream({ onAlarm: a => got.push(a) })
    expect(s.live).toBe(true)
    const call = env.wx.request.mock.calls[0][0]
    expect(call.url).toBe(config.apiBaseUrl + '/api/alarms/stream')
    expect(call.method).toBe('GET')
    expect(call.header.Authorization).toBe('Bearer test-token-alice')
    expect(call.enableChunked).toBe(true)
    expect(call.responseType).toBe('arraybuffer')
    expect(call.timeout).toBe(config.alarmStreamTimeoutMs)
    expect(config.alarmStreamTimeoutMs).toBeGreaterThan(60000)
    await ticks()
    env.streams[0].send('retry: 5000\n: alarms\n\n' + event(alarm(40, { site: '北区' })))
    expect(got.map(a => [a.id, a.site])).toEqual([[40, '北区']])
    s.close()
    expect(env.streams[0].aborted).toBe(true)
    s.close() // twice is harmless
  })

  test('events other than alarm, and data that is not an alarm, are passed over', async () => {
    setUp('user')
    const got = []
    const s = api.openAlarmStream({ onAlarm: a => got.push(a) })
    await ticks()
    env.streams[0].send('event: other\ndata: {"id":1,"state":"raised","device_id":"m"}\n\n' +
      'event: alarm\ndata: not json\n\n' + 'event: alarm\ndata: {"id":"1","state":"raised","device_id":"m"}\n\n' +
      'event: alarm\ndata: {"id":0,"state":"raised","device_id":"m"}\n\n' + 'event: alarm\ndata: [1]\n\n' +
      event(alarm(41)))
    expect(got.map(a => a.id)).toEqual([41])
    s.close()
  })

  test('a stream that ends is made again after 1 s, doubling up to 30 s; an open one resets the delay', async () => {
    jest.useFakeTimers()
    setUp('user')
    env.routes['GET /api/alarms/stream'] = { fail: 'net::ERR_CONNECTION_REFUSED' }
    const opens = []
    const s = api.openAlarmStream({ onOpen: info => opens.push(info) })
    const waits = []
    for (let n = 1; n <= 7; n++) {
      await ticks()
      expect(streamRequests()).toHaveLength(n)
      // nothing before the delay, a new request at it
      let waited = 0
      while (streamRequests().length === n) {
        jest.advanceTimersByTime(250)
        waited += 250
        await ticks()
        if (waited > 60000) throw new Error('no reconnect')
      }
      waits.push(waited)
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000])
    expect(opens).toEqual([])

    // Once a stream opens the next failure waits 1 s again, and the open says it is a reconnect.
    env.routes['GET /api/alarms/stream'] = { stream: true }
    jest.advanceTimersByTime(30000)
    await ticks()
    expect(env.streams).toHaveLength(1)
    expect(opens).toEqual([{ reconnected: true }])
    env.streams[0].end()
    await ticks()
    const before = streamRequests().length
    jest.advanceTimersByTime(999)
    await ticks()
    expect(streamRequests()).toHaveLength(before)
    jest.advanceTimersByTime(1)
    await ticks()
    expect(streamRequests()).toHaveLength(before + 1)
    s.close()
  })

  test('503 waits as long as Retry-After says; close() cancels a pending reconnect', async () => {
    jest.useFakeTimers()
    setUp('user')
    env.routes['GET /api/alarms/stream'] = error(503, 'too many alarm streams open; try again later', { 'Retry-After': '30' })
    const s = api.openAlarmStream({})
    await ticks()
    expect(streamRequests()).toHaveLength(1)
    jest.advanceTimersByTime(29999)
    await ticks()
    expect(streamRequests()).toHaveLength(1)
    jest.advanceTimersByTime(1)
    await ticks()
    expect(streamRequests()).toHaveLength(2)
    s.close()
    jest.advanceTimersByTime(120000)
    await ticks()
    expect(streamRequests()).toHaveLength(2)
    expect(jest.getTimerCount()).toBe(0)
  })

  test('a 401 ends the session and goes to the login page; nothing reconnects', async () => {
    jest.useFakeTimers()
    setUp('user')
    env.routes['GET /api/alarms/stream'] = error(401, 'token expired')
    api.openAlarmStream({})
    await ticks()
    expect(env.storage.has('smartmeter.token')).toBe(false)
    expect(env.navigations).toEqual([{ kind: 'reLaunch', url: '/pages/login/index' }])
    jest.advanceTimersByTime(120000)
    await ticks()
    expect(streamRequests()).toHaveLength(1)
  })

  test('a server without the stream (404) is not asked again', async () => {
    jest.useFakeTimers()
    setUp('user')
    delete env.routes['GET /api/alarms/stream']
    api.openAlarmStream({})
    await ticks()
    jest.advanceTimersByTime(120000)
    await ticks()
    expect(streamRequests()).toHaveLength(1)
    expect(jest.getTimerCount()).toBe(0)
  })

  test('an error answer\'s body is never read as events', async () => {
    setUp('user')
    const body = event(alarm(5))
    env.routes['GET /api/alarms/stream'] = { statusCode: 503, data: body, header: { 'Content-Type': 'text/plain' } }
    const got = []
    const s = api.openAlarmStream({ onAlarm: a => got.push(a), onOpen: () => got.push('open') })
    await ticks()
    expect(got).toEqual([])
    s.close()
    // The same bytes as the stream's answer are an event.
    env.routes['GET /api/alarms/stream'] = { stream: true }
    const t = api.openAlarmStream({ onAlarm: a => got.push(a.id), onOpen: () => got.push('open') })
    await ticks()
    env.streams[0].send(body)
    expect(got).toEqual(['open', 5])
    t.close()
  })

  test('an old base library, or a RequestTask without onChunkReceived, is not live', async () => {
    setUp('user')
    env.wx.getAppBaseInfo.mockReturnValue({ language: 'zh_CN', SDKVersion: '2.19.4' })
    expect(api.openAlarmStream({}).live).toBe(false)
    expect(streamRequests()).toHaveLength(0)

    env.wx.getAppBaseInfo.mockReturnValue({ language: 'zh_CN', SDKVersion: '2.20.1' })
    const request = env.wx.request.getMockImplementation()
    let aborted = 0
    env.wx.request.mockImplementation(o => { request(Object.assign({}, o, { enableChunked: false })); return { abort() { aborted++ } } })
    expect(api.openAlarmStream({}).live).toBe(false)
    expect(aborted).toBe(1)
  })

  test('without a token nothing is opened', () => {
    env = installWx()
    const s = api.openAlarmStream({})
    expect(s.live).toBe(true)
    expect(env.wx.request).not.toHaveBeenCalled()
  })
})

describe('the alarm tab follows the stream while shown', () => {
  test('a raised alarm shows at once, in its place, with the badge and the count; no list is read again', async () => {
    setUp('user')
    const page = render('alarms')
    await page.instance.onShow()
    expect(streamRequests()).toHaveLength(1)
    const reads = listRequests().length
    expect(text(page, '#raised-count')).toBe('3')
    expect(text(page, '#total')).toBe('共 27 条告警')

    // A critical alarm raised now comes first; its bytes arrive cut inside a Chinese character.
    const bytes = Buffer.from(event(alarm(50, { kind: 'voltage.sag', severity: 'critical', site: '北区配电房' })), 'utf8')
    const cut = bytes.indexOf(Buffer.from('北', 'utf8')) + 1
    const stream = env.streams[0]
    stream.sendBytes(bytes.subarray(0, cut))
    expect(page.data.alarms.map(a => a.id)).not.toContain(50)
    stream.sendBytes(bytes.subarray(cut))
    expect(page.data.alarms.map(a => a.id).slice(0, 5)).toEqual([50, 30, 29, 31, 28])
    expect(text(page, '#raised-count')).toBe('4')
    expect(text(page, '#open-count')).toBe('5')
    expect(text(page, '#total')).toBe('共 28 条告警')
    expect(env.wx.setTabBarBadge).toHaveBeenLastCalledWith(expect.objectContaining({ index: 1, text: '4' }))
    await tap(page, '#alarm-50 .head')
    expect(text(page, '#details')).toContain('北区配电房')

    // Acknowledged elsewhere: the card follows and stays open.
    stream.send(event(alarm(50, { kind: 'voltage.sag', severity: 'critical', site: '北区配电房', state: 'acknowledged', acknowledged_by: 'op', acknowledged_at: '2026-12-07T06:30:00.000Z', note: '已派人' })))
    expect(text(page, '#alarm-50')).toContain('已确认')
    expect(page.data.expanded).toBe(50)
    expect(text(page, '#details')).toContain('备注：已派人')
    expect(text(page, '#raised-count')).toBe('3')
    expect(text(page, '#total')).toBe('共 28 条告警') // the same alarm, not another

    // Cleared: it leaves the open ones for the top of the recent ones, still expanded.
    stream.send(event(alarm(50, { kind: 'voltage.sag', severity: 'critical', state: 'cleared', cleared_at: '2026-12-07T06:40:00.000Z' })))
    const ids = page.data.alarms.map(a => a.id)
    expect(ids.slice(0, 5)).toEqual([30, 29, 31, 28, 50])
    expect(ids.filter(id => id === 50)).toHaveLength(1)
    expect(text(page, '#open-count')).toBe('4')
    expect(text(page, '#alarm-50')).toContain('已恢复')
    expect(page.data.expanded).toBe(50)

    // An open one cleared: out of the open list, the badge counts down.
    stream.send(event(Object.assign({}, OPEN[1], { state: 'cleared', cleared_at: '2026-12-07T06:41:00.000Z' })))
    expect(page.data.alarms.map(a => a.id).slice(0, 5)).toEqual([29, 31, 28, 30, 50])
    expect(env.wx.setTabBarBadge).toHaveBeenLastCalledWith(expect.objectContaining({ text: '2' }))
    // Moved from the open ones to the cleared ones, the count stays; a cleared one of a page
    // not read yet too.
    expect(text(page, '#total')).toBe('共 28 条告警')
    stream.send(event(CLEARED[22]))
    expect(text(page, '#total')).toBe('共 28 条告警')

    expect(listRequests()).toHaveLength(reads)
    expect(streamRequests()).toHaveLength(1)

    // Paging on: the next page leaves out what the stream already put on top.
    await page.instance.onReachBottom()
    const after = page.data.alarms.map(a => a.id)
    expect(after.length).toBe(new Set(after).size)
    page.instance.onUnload()
  })

  test('hidden, the stream closes; shown again, one new stream; unloaded, closed', async () => {
    setUp('operator')
    const page = render('alarms')
    await page.instance.onShow()
    expect(env.streams).toHaveLength(1)
    await page.instance.onShow() // shown twice without a hide: still one stream
    expect(streamRequests()).toHaveLength(1)
    page.instance.onHide()
    expect(env.streams[0].aborted).toBe(true)
    // A late event of the closed stream changes nothing.
    env.streams[0].send(event(alarm(60)))
    expect(page.data.alarms.map(a => a.id)).not.toContain(60)
    await page.instance.onShow()
    expect(env.streams).toHaveLength(2)
    expect(env.streams[1].aborted).toBe(false)
    page.instance.onUnload()
    expect(env.streams[1].aborted).toBe(true)
  })

  test('after a reconnect the lists are read once more', async () => {
    jest.useFakeTimers()
    setUp('user')
    const page = render('alarms')
    const shown = page.instance.onShow()
    await ticks()
    await shown
    const reads = listRequests().length
    env.streams[0].end()
    await ticks()
    jest.advanceTimersByTime(1000)
    await ticks()
    expect(env.streams).toHaveLength(2)
    expect(listRequests()).toHaveLength(reads + 2) // open and cleared, once
    page.instance.onUnload()
    expect(jest.getTimerCount()).toBe(0)
  })

  test('a change that arrives while the lists are read is applied to what they return', async () => {
    setUp('user')
    const page = render('alarms')
    await page.instance.onShow()
    // Pull down; the answers come back (without alarm 70) after the stream's event.
    const pull = page.instance.onPullDownRefresh()
    env.streams[0].send(event(alarm(70, { severity: 'critical' })))
    await pull
    expect(page.data.alarms[0].id).toBe(70)
    expect(text(page, '#total')).toBe('共 28 条告警') // counted once: the answers predate it
    page.instance.onUnload()
  })

  test('on a base library without enableChunked the tab reads on show and pull-down, as before', async () => {
    setUp('user')
    env.wx.getAppBaseInfo.mockReturnValue({ language: 'zh_CN', SDKVersion: '2.19.0' })
    const page = render('alarms')
    await page.instance.onShow()
    expect(streamRequests()).toHaveLength(0)
    expect(page.data.alarms.map(a => a.id).slice(0, 4)).toEqual([30, 29, 31, 28])
    await page.instance.onPullDownRefresh()
    expect(listRequests()).toHaveLength(4)
    page.instance.onHide()
  })
})
