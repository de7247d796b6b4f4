// The device page's relay and prepaid state: a meter cut off for arrears says so and how to get
// the power back; a meter on says so; a meter that never reported its relay shows nothing wrong.
const { installWx, loginAs, ok, flush } = require('./helpers/wx-mock.js')
const { render, text, tap } = require('./helpers/page.js')
const { createCanvas } = require('./helpers/canvas.js')
const chart = require('../utils/chart.js')
const { CUT_DEVICE, CHARGED_DEVICE } = require('./fixtures/prepaid.js')

let env
let intervals

beforeEach(() => {
  env = installWx()
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/devices/meter-cut'] = ok(CUT_DEVICE)
  env.routes['GET /api/devices/meter-02'] = ok(CHARGED_DEVICE)
  env.routes['GET /api/device/data/meter-cut'] = ok([])
  env.routes['GET /api/device/data/meter-02'] = ok([])
  jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(createCanvas(320, 240)))
  intervals = []
  jest.spyOn(global, 'setInterval').mockImplementation((fn, ms) => {
    intervals.push({ fn, ms })
    return intervals.length
  })
  jest.spyOn(global, 'clearInterval').mockImplementation(() => {})
})

afterEach(() => {
  jest.restoreAllMocks()
})

async function open(id) {
  const page = render('device')
  await page.instance.onLoad({ id })
  await page.instance.onShow()
  return page
}

test('a meter cut off for arrears shows the cut, the negative balance and the way back', async () => {
  const page = await open('meter-cut')
  expect(text(page, '#relay')).toBe('已断电')
  expect(page.querySelector('#relay').dom.className).toContain('relay-off')
  expect(text(page, '#cutoff')).toBe('余额不足，电表已断电。充值后将自动恢复供电。')
  expect(text(page, '#balance')).toBe('¥-0.42')
  expect(page.data.lowBalance).toBe(true)
  await tap(page, '#recharge')
  expect(env.navigations).toEqual([{ kind: 'navigateTo', url: '/pages/recharge/index?id=meter-cut' }])
})

test('a meter on shows power on and no cut-off message', async () => {
  const page = await open('meter-02')
  expect(text(page, '#relay')).toBe('供电中')
  expect(page.querySelector('#relay').dom.className).toContain('relay-on')
  expect(page.querySelector('#cutoff')).toBeFalsy()
  expect(text(page, '#balance')).toBe('¥37.80')
})

test('the refresh shows the load restored once the meter reports its relay on again', async () => {
  const page = await open('meter-cut')
  expect(page.querySelector('#cutoff')).toBeTruthy()
  env.routes['GET /api/devices/meter-cut'] = ok(Object.assign({}, CUT_DEVICE, { balance: 49.58, relay: 'on' }))
  intervals[0].fn()
  await flush()
  expect(text(page, '#relay')).toBe('供电中')
  expect(page.querySelector('#cutoff')).toBeFalsy()
  expect(text(page, '#balance')).toBe('¥49.58')
})

test('no relay reported yet (relay null, or a server without the field): unknown, no warning', async () => {
  env.routes['GET /api/devices/meter-02'] = ok(Object.assign({}, CHARGED_DEVICE, { relay: null }))
  const page = await open('meter-02')
  expect(text(page, '#relay')).toBe('--')
  expect(page.querySelector('#cutoff')).toBeFalsy()

  const older = Object.assign({}, CHARGED_DEVICE)
  delete older.relay
  env.routes['GET /api/devices/meter-02'] = ok(older)
  const page2 = await open('meter-02')
  expect(text(page2, '#relay')).toBe('--')
  expect(page2.querySelector('#cutoff')).toBeFalsy()
})

test('电费与账单 opens the cost and ledger page of this device', async () => {
  const page = await open('meter-02')
  await tap(page, '#billing')
  expect(env.navigations).toEqual([{ kind: 'navigateTo', url: '/pages/billing/index?id=meter-02' }])
})
