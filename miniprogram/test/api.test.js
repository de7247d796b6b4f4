const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const api = require('../utils/api.js')
const config = require('../config.js')

let env
beforeEach(() => {
  env = installWx()
})

test('requests go to the configured base URL with the stored token', async () => {
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/devices'] = ok({ status: 'success', devices: [] })
  await api.listDevices()
  const call = env.wx.request.mock.calls[0][0]
  expect(call.url).toBe(config.apiBaseUrl + '/api/devices')
  expect(call.header.Authorization).toBe('Bearer test-token-alice')
  expect(call.timeout).toBe(config.requestTimeoutMs)
})

test('device ids and query parameters are percent-encoded', async () => {
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/device/data/a%3Ab'] = ok([])
  await api.history('a:b', { from: '2026-11-23T18:00:00+08:00', interval: '15m', limit: 10, to: undefined })
  const call = env.wx.request.mock.calls[0][0]
  expect(call.url).toBe(config.apiBaseUrl + '/api/device/data/a%3Ab?from=2026-11-23T18%3A00%3A00%2B08%3A00&interval=15m&limit=10')
})

test('errors carry the status and the server message', async () => {
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/devices/x'] = error(404, 'device not found')
  const err = await api.getDevice('x').catch(e => e)
  expect(err).toBeInstanceOf(Error)
  expect(err.name).toBe('ApiError')
  expect(err.statusCode).toBe(404)
  expect(err.serverMessage).toBe('device not found')
  expect(err.message).toBe('设备不存在，或您无权查看该设备')
  expect(err.retryable).toBe(false)
})

test('a 401 clears the session and relaunches the login page once', async () => {
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/devices'] = error(401, 'token expired')
  env.routes['GET /api/me'] = error(401, 'token expired')
  const results = await Promise.all([api.listDevices().catch(e => e), api.me().catch(e => e)])
  expect(results.map(e => e.statusCode)).toEqual([401, 401])
  expect(results[0].message).toBe('登录已过期，请重新登录')
  expect(env.storage.has('smartmeter.token')).toBe(false)
  expect(env.navigations.filter(n => n.kind === 'reLaunch').length).toBeGreaterThanOrEqual(1)
  expect(env.navigations.every(n => n.url === '/pages/login/index')).toBe(true)
})

test('isStaff', () => {
  expect(api.isStaff({ role: 'operator' })).toBe(true)
  expect(api.isStaff({ role: 'admin' })).toBe(true)
  expect(api.isStaff({ role: 'user' })).toBe(false)
  expect(api.isStaff(null)).toBe(false)
})

test('idempotency keys are fresh UUID-shaped printable ASCII', () => {
  const keys = new Set()
  for (let i = 0; i < 1000; i++) keys.add(api.newIdempotencyKey())
  expect(keys.size).toBe(1000)
  keys.forEach(k => expect(k).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/))
})
