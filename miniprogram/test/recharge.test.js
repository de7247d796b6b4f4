const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, text, type, tap } = require('./helpers/page.js')

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let env
beforeEach(() => {
  env = installWx()
  loginAs(env, 'counter', 'operator')
  env.routes['GET /api/devices/meter-01'] = ok({ status: 'success', device_id: 'meter-01', balance: 100, status: 'online', latest: null })
})

function posts() {
  return env.requests.filter(r => r.method === 'POST')
}

async function open() {
  const page = render('recharge')
  await page.instance.onLoad({ id: 'meter-01' })
  return page
}

test('shows the current balance', async () => {
  const page = await open()
  expect(text(page, '#balance')).toBe('¥100.00')
  expect(page.querySelector('#notice')).toBeFalsy() // operators recharge at the counter
})

test.each([
  ['0', '充值金额必须大于 0'],
  ['0.00', '充值金额必须大于 0'],
  ['-1', '金额格式不正确：请输入正数，最多两位小数，如 100 或 100.50'],
  ['1.005', '金额格式不正确：请输入正数，最多两位小数，如 100 或 100.50'],
  ['abc', '金额格式不正确：请输入正数，最多两位小数，如 100 或 100.50'],
  ['1e3', '金额格式不正确：请输入正数，最多两位小数，如 100 或 100.50'],
  ['', '请输入充值金额'],
  ['10000000.01', '单次充值不能超过 10000000.00 元']
])('%j is refused before any request', async (input, message) => {
  const page = await open()
  await type(page, '#amount', input)
  await tap(page, '#submit')
  expect(text(page, '#error')).toBe(message)
  expect(posts()).toHaveLength(0)
  expect(env.modals).toHaveLength(0)
})

test('a valid amount is confirmed, sent as an exact decimal with an Idempotency-Key, and the new balance shown', async () => {
  env.routes['POST /api/device/recharge/meter-01'] = ok({ status: 'success', new_balance: 150.25, ledger_id: 7 })
  const page = await open()
  await type(page, '#amount', ' 50.25 ')
  await tap(page, '#submit')

  expect(env.modals).toHaveLength(1)
  expect(env.modals[0].content).toBe('为电表 meter-01 充值 ¥50.25？')
  const sent = posts()
  expect(sent).toHaveLength(1)
  expect(sent[0].path).toBe('/api/device/recharge/meter-01')
  expect(sent[0].data).toEqual({ amount: '50.25' })
  expect(sent[0].header['Idempotency-Key']).toMatch(UUID)
  expect(sent[0].header.Authorization).toBe('Bearer test-token-counter')
  expect(text(page, '#new-balance')).toBe('¥150.25')
  expect(text(page, '#balance')).toBe('¥150.25')
  expect(text(page, '#result')).toContain('充值成功：¥50.25')
  expect(env.toasts).toContain('充值成功')
  expect(page.data.amount).toBe('')
})

test('whole yuan are sent with two decimals', async () => {
  env.routes['POST /api/device/recharge/meter-01'] = ok({ status: 'success', new_balance: 107, ledger_id: 8 })
  const page = await open()
  await type(page, '#amount', '007')
  await tap(page, '#submit')
  expect(posts()[0].data).toEqual({ amount: '7.00' })
  expect(text(page, '#new-balance')).toBe('¥107.00')
})

test('a retry after a network failure reuses the key; the next recharge gets a new one', async () => {
  let answer = { fail: 'timeout' }
  env.routes['POST /api/device/recharge/meter-01'] = () => answer
  const page = await open()
  await type(page, '#amount', '20')
  await tap(page, '#submit')
  expect(text(page, '#error')).toBe('请求超时，请检查网络后重试（可直接重试，不会重复充值）')

  answer = { statusCode: 503, data: { status: 'error', message: 'database unavailable, try again shortly' } }
  await tap(page, '#submit')
  answer = ok({ status: 'success', new_balance: 120, ledger_id: 9 })
  await tap(page, '#submit')
  expect(text(page, '#new-balance')).toBe('¥120.00')

  await type(page, '#amount', '20')
  await tap(page, '#submit')

  const keys = posts().map(r => r.header['Idempotency-Key'])
  expect(keys).toHaveLength(4)
  expect(keys[1]).toBe(keys[0])
  expect(keys[2]).toBe(keys[0])
  expect(keys[3]).not.toBe(keys[0])
  keys.forEach(k => expect(k).toMatch(UUID))
})

test('changing the amount after a failure is a new attempt with a new key', async () => {
  env.routes['POST /api/device/recharge/meter-01'] = { fail: 'net::ERR_CONNECTION_RESET' }
  const page = await open()
  await type(page, '#amount', '20')
  await tap(page, '#submit')
  await type(page, '#amount', '30')
  await tap(page, '#submit')
  const keys = posts().map(r => r.header['Idempotency-Key'])
  expect(keys).toHaveLength(2)
  expect(keys[1]).not.toBe(keys[0])
})

test('cancelling the confirmation sends nothing', async () => {
  env.modalAnswer = false
  const page = await open()
  await type(page, '#amount', '20')
  await tap(page, '#submit')
  expect(env.modals).toHaveLength(1)
  expect(posts()).toHaveLength(0)
})

test('a user (not staff) sees the notice and the 403 message of the server', async () => {
  loginAs(env, 'alice', 'user')
  env.routes['POST /api/device/recharge/meter-01'] = error(403, 'only operators and admins may recharge until online payment is enabled')
  const page = await open()
  expect(text(page, '#notice')).toBe('在线支付开通前，充值需由物业或运营人员办理。')
  await type(page, '#amount', '100')
  await tap(page, '#submit')
  expect(posts()).toHaveLength(1)
  expect(text(page, '#error')).toBe('在线支付开通前，仅运营人员和管理员可以充值，请联系物业或运营人员办理')
  expect(text(page, '#balance')).toBe('¥100.00')
  expect(page.querySelector('#result')).toBeFalsy()
  // a refusal is final: trying again is a new attempt
  await tap(page, '#submit')
  const keys = posts().map(r => r.header['Idempotency-Key'])
  expect(keys[1]).not.toBe(keys[0])
})

test('quick amount chips fill the amount', async () => {
  const page = await open()
  await tap(page, '.chip')
  expect(page.data.amount).toBe('50')
})
