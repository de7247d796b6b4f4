// The devices page's paging against a real meter-server: 45 meters added by an operator
// through the API, the page shows 20 of them, reaching the bottom follows next_cursor to 40
// and 45, a search narrows, and the fleet counts are the server's. wx.request is carried over
// node's http.
//
// METER_SERVER names the meter-server binary (ctest sets it). Without it this file is
// skipped, and says so.

const { installWx } = require('./helpers/wx-mock.js')
const { render, text, texts } = require('./helpers/page.js')
const { createRequest } = require('./helpers/node-request.js')
const { startMeterServer } = require('./helpers/meter-server.js')
const config = require('../config.js')

const BINARY = process.env.METER_SERVER

if (!BINARY) {
  // eslint-disable-next-line no-console
  console.warn('devices-live.test.js skipped: set METER_SERVER to the meter-server binary to run the devices page against a real server')
}

const describeLive = BINARY ? describe : describe.skip
const FLEET = Array.from({ length: 45 }, (_, i) => 'fleet-' + String(i).padStart(3, '0'))

describeLive('the devices page pages through a real meter-server', () => {
  let server
  let env
  let request

  beforeAll(async () => {
    server = await startMeterServer(BINARY, {
      users: [{ name: 'counter', role: 'operator', password: 'counter-password' }],
      devices: []
    })
    const login = await server.post('/api/login', { username: 'counter', password: 'counter-password' })
    expect(login.statusCode).toBe(200)
    const auth = { Authorization: 'Bearer ' + login.body.token }
    for (const id of FLEET) {
      const res = await server.post('/api/devices', { device_id: id }, auth)
      expect(res.statusCode).toBe(201)
    }
  }, 60000)

  afterAll(async () => {
    if (server) await server.stop()
  })

  beforeEach(async () => {
    env = installWx()
    request = createRequest()
    env.wx.request = request
    config.apiBaseUrl = server.base
    const login = await server.post('/api/login', { username: 'counter', password: 'counter-password' })
    env.storage.set('smartmeter.token', login.body.token)
    env.storage.set('smartmeter.user', { username: 'counter', role: 'operator' })
  })

  const listed = () => request.log.filter(r => r.path.startsWith('/api/devices?'))

  test('20 at first, the next pages on reaching the bottom, then no more', async () => {
    const page = render('devices')
    await page.instance.onShow()
    expect(listed().map(r => r.path)).toEqual(['/api/devices?limit=20'])
    expect(texts(page, '.device-id')).toEqual(FLEET.slice(0, 20))
    expect(text(page, '#shown')).toContain('已显示 20 / 共 45 台')
    // the server's counts: 45 meters, none heard from yet
    expect(text(page, '#count-total')).toBe('45总数')
    expect(text(page, '#count-unknown')).toBe('45从未上线')
    expect(text(page, '#count-online')).toBe('0在线')

    await page.instance.onReachBottom()
    expect(listed()[1].path).toMatch(/^\/api\/devices\?limit=20&cursor=[^&]+$/)
    expect(texts(page, '.device-id')).toEqual(FLEET.slice(0, 40))
    await page.instance.onReachBottom()
    expect(texts(page, '.device-id')).toEqual(FLEET)
    expect(text(page, '#shown')).toContain('已全部显示')
    await page.instance.onReachBottom()
    expect(listed()).toHaveLength(3)

    // pull-down: the first page again
    await page.instance.onPullDownRefresh()
    expect(listed()[3].path).toBe('/api/devices?limit=20')
    expect(texts(page, '.device')).toHaveLength(20)
  })

  test('a search narrows the list on the server', async () => {
    const page = render('devices')
    await page.instance.onShow()
    await page.instance.onSearchConfirm({ detail: { value: 'FLEET-04' } })
    expect(listed()[1].path).toBe('/api/devices?limit=20&q=FLEET-04')
    expect(texts(page, '.device-id')).toEqual(['fleet-040', 'fleet-041', 'fleet-042', 'fleet-043', 'fleet-044'])
    expect(text(page, '#shown')).toContain('共 5 台')
  })

  test('tapping the online count filters on the server: nobody is online', async () => {
    const page = render('devices')
    await page.instance.onShow()
    await page.instance.onChip({ currentTarget: { dataset: { key: 'online' } } })
    expect(listed()[1].path).toBe('/api/devices?limit=20&status=online')
    expect(texts(page, '.device')).toHaveLength(0)
    expect(text(page, '#empty')).toBeTruthy()
  })
})
