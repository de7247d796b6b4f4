const { installWx, loginAs, ok, error, waitFor } = require('./helpers/wx-mock.js')
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

// --- a tenant pays with WeChat Pay -----------------------------------------------------------

const PAY_PARAMS = {
  appId: 'wxd678efh567hg6787',
  timeStamp: '1765100000',
  nonceStr: '5K8264ILTKCH16CQ2502SI8ZNMTM67VS',
  package: 'prepay_id=wx201410272009395522657a690389285100',
  signType: 'RSA',
  paySign: 'c2lnbmF0dXJl'
}
const ORDER = 'SM20261207ABCDEFGHIJ0123456789'

function asTenant(state) {
  loginAs(env, 'alice', 'user')
  let balance = 100
  env.routes['GET /api/devices/meter-01'] = () => ok({ status: 'success', device_id: 'meter-01', balance, status: 'online', latest: null })
  env.routes['POST /api/devices/meter-01/payments'] = { statusCode: 201, data: { status: 'success', out_trade_no: ORDER, amount: 50, expires_at: '2026-12-07T12:30:00.000Z', pay_params: PAY_PARAMS } }
  const payment = { state: state || 'created' }
  env.routes['GET /api/devices/meter-01/payments/' + ORDER] = () => ok({ status: 'success', out_trade_no: ORDER, state: payment.state, amount: 50 })
  // WeChat Pay notifies the server while the payer confirms: the order is paid and credited.
  env.onPayment = () => { if (env.paymentAnswer === 'ok') { payment.state = 'paid'; balance = 150 } }
  return payment
}

async function openAsTenant(state) {
  const payment = asTenant(state)
  const page = await open()
  page.instance.pollMs = 1
  return { page, payment }
}

test('a tenant sees no counter notice and a WeChat Pay button', async () => {
  const { page } = await openAsTenant()
  expect(page.querySelector('#notice')).toBeFalsy()
  expect(text(page, '#submit')).toBe('微信支付')
  expect(text(page, '#balance')).toBe('¥100.00')
})

test('a tenant pays: an order, wx.requestPayment with its parameters, then the credited balance', async () => {
  const { page } = await openAsTenant()
  await type(page, '#amount', '50')
  await tap(page, '#submit')
  await waitFor(() => page.data.result || page.data.error)

  expect(env.modals[0].content).toBe('微信支付为电表 meter-01 充值 ¥50.00？')
  const sent = posts()
  expect(sent).toHaveLength(1)
  expect(sent[0].path).toBe('/api/devices/meter-01/payments')
  expect(sent[0].data).toEqual({ amount: '50.00' })
  expect(sent[0].header.Authorization).toBe('Bearer test-token-alice')
  expect(sent[0].header['Idempotency-Key']).toBeUndefined()
  expect(env.payments).toHaveLength(1)
  const p = env.payments[0]
  expect({ appId: p.appId, timeStamp: p.timeStamp, nonceStr: p.nonceStr, package: p.package, signType: p.signType, paySign: p.paySign }).toEqual(PAY_PARAMS)
  expect(env.requests.some(r => r.path === '/api/device/recharge/meter-01')).toBe(false)
  expect(env.requests.filter(r => r.path === '/api/devices/meter-01/payments/' + ORDER).length).toBeGreaterThanOrEqual(1)
  expect(text(page, '#result')).toContain('支付成功：¥50.00')
  expect(text(page, '#new-balance')).toBe('¥150.00')
  expect(text(page, '#balance')).toBe('¥150.00')
  expect(env.toasts).toContain('支付成功')
  expect(page.data.amount).toBe('')
})

test('a cancelled payment says so and credits nothing', async () => {
  const { page } = await openAsTenant()
  env.paymentAnswer = 'cancel'
  await type(page, '#amount', '50')
  await tap(page, '#submit')
  await waitFor(() => page.data.error)
  expect(text(page, '#error')).toBe('已取消支付')
  expect(page.querySelector('#result')).toBeFalsy()
  expect(text(page, '#balance')).toBe('¥100.00')
  expect(page.data.submitting).toBe(false)
})

test('a failed payment shows WeChat\'s reason', async () => {
  const { page } = await openAsTenant()
  env.paymentAnswer = 'fail system error'
  await type(page, '#amount', '50')
  await tap(page, '#submit')
  await waitFor(() => page.data.error)
  expect(text(page, '#error')).toBe('支付未完成：requestPayment:fail system error')
  expect(page.querySelector('#result')).toBeFalsy()
})

test('a payment the server has not seen yet is reported as on its way', async () => {
  const { page, payment } = await openAsTenant()
  env.onPayment = () => { payment.state = 'created' } // the notification is late
  await type(page, '#amount', '50')
  await tap(page, '#submit')
  await waitFor(() => page.data.notice)
  expect(text(page, '#notice')).toBe('支付已完成，到账可能稍有延迟，请稍后刷新余额')
  expect(env.requests.filter(r => r.path === '/api/devices/meter-01/payments/' + ORDER)).toHaveLength(10)
  expect(page.querySelector('#result')).toBeFalsy()
})

test('the server\'s refusal of an order is shown and wx.requestPayment is not called', async () => {
  asTenant()
  env.routes['POST /api/devices/meter-01/payments'] = error(409, 'link this account to WeChat first (log in from the mini program), then pay')
  const page = await open()
  await type(page, '#amount', '50')
  await tap(page, '#submit')
  await waitFor(() => page.data.error)
  expect(text(page, '#error')).toBe('请先在「我的」页面绑定微信，再进行支付')
  expect(env.payments).toHaveLength(0)
})

test('an invalid amount is refused before an order is placed', async () => {
  const { page } = await openAsTenant()
  await type(page, '#amount', '1.005')
  await tap(page, '#submit')
  expect(text(page, '#error')).toBe('金额格式不正确：请输入正数，最多两位小数，如 100 或 100.50')
  expect(posts()).toHaveLength(0)
  expect(env.payments).toHaveLength(0)
})

test('quick amount chips fill the amount', async () => {
  const page = await open()
  await tap(page, '.chip')
  expect(page.data.amount).toBe('50')
})
