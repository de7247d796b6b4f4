// A tenant's WeChat Pay payment end to end: the recharge page against a real meter-server
// that places the order with the WeChat Pay stand-in (tests/lib/wxpay_standin.py) and takes
// its signed notification. wx.requestPayment is played by the stand-in paying the order the
// server placed (it then notifies the server, as WeChat Pay does); wx.request is carried
// over node's http. The page shows the new balance once the server has credited it, once.
//
// METER_SERVER names the meter-server binary (ctest sets it); python3 with
// python3-cryptography runs the stand-in. Without either this file is skipped, and says so.

const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { installWx, waitFor } = require('./helpers/wx-mock.js')
const { render, text, type, tap } = require('./helpers/page.js')
const { createRequest } = require('./helpers/node-request.js')
const { startMeterServer } = require('./helpers/meter-server.js')
const { startWechatStandin } = require('./helpers/wechat-standin.js')
const { startWxpayStandin, wxpayStandinAvailable } = require('./helpers/wxpay-standin.js')
const config = require('../config.js')
const api = require('../utils/api.js')

const BINARY = process.env.METER_SERVER
const RUN = !!BINARY && wxpayStandinAvailable()

if (!RUN) {
  // eslint-disable-next-line no-console
  console.warn('pay-live.test.js skipped: needs METER_SERVER and python3 with python3-cryptography')
}

const describeLive = RUN ? describe : describe.skip

describeLive('a tenant pays with WeChat Pay against a running meter-server and the stand-in', () => {
  let server
  let wechat
  let wxpay
  let dir
  let token
  let env
  let request

  beforeAll(async () => {
    wxpay = await startWxpayStandin()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniprogram-pay-'))
    const appSecret = 'live' + crypto.randomBytes(16).toString('hex')
    const secretFile = path.join(dir, 'wechat.secret')
    fs.writeFileSync(secretFile, appSecret + '\n', { mode: 0o600 })
    wechat = await startWechatStandin(wxpay.appid, appSecret)
    server = await startMeterServer(BINARY, {
      users: [{ name: 'alice', role: 'user', password: 'alice-password' }],
      devices: [{ id: 'meter-pay', owner: 'alice' }],
      args: port => ['--wechat-appid', wxpay.appid, '--wechat-secret-file', secretFile,
        '--wechat-api-base', wechat.base].concat(wxpay.args('http://127.0.0.1:' + port + '/api/payments/wechat/notify'))
    })
    const login = await server.post('/api/login', { username: 'alice', password: 'alice-password' })
    expect(login.statusCode).toBe(200)
    token = login.body.token
    const bind = await server.post('/api/me/wechat', { code: wechat.issue('oAlicePayLive_1') }, { Authorization: 'Bearer ' + token })
    expect(bind.statusCode).toBeLessThan(300)
  }, 60000)

  afterAll(async () => {
    if (server) await server.stop()
    if (wechat) await wechat.stop()
    if (wxpay) await wxpay.stop()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  beforeEach(() => {
    env = installWx()
    request = createRequest()
    env.wx.request = request
    config.apiBaseUrl = server.base
    env.storage.set('smartmeter.token', token)
    env.storage.set('smartmeter.user', { username: 'alice', role: 'user' })
  })

  // WeChat's payment sheet: the payer pays the order the server just placed; notified gets
  // the status of WeChat Pay's notification to the server.
  function payerSheet(notified) {
    env.wx.requestPayment = o => {
      const order = request.log.filter(r => r.method === 'POST' && r.path === '/api/devices/meter-pay/payments').pop()
      expect(o.package).toBe(order.response.pay_params.package)
      expect(o.signType).toBe('RSA')
      wxpay.pay(order.response.out_trade_no).then(status => {
        notified.push(status)
        o.success({ errMsg: 'requestPayment:ok' })
      }, e => o.fail({ errMsg: 'requestPayment:fail ' + e.message }))
    }
  }

  test('order, wx.requestPayment, notification: the page shows the balance credited once', async () => {
    const notified = []
    payerSheet(notified)
    const page = render('recharge')
    await page.instance.onLoad({ id: 'meter-pay' })
    page.instance.pollMs = 100
    expect(text(page, '#balance')).toBe('¥0.00')
    await type(page, '#amount', '50')
    await tap(page, '#submit')
    await waitFor(() => page.data.result || page.data.error || page.data.notice, 15000)

    expect(page.data.error).toBe('')
    expect(notified).toEqual([204])
    expect(text(page, '#result')).toContain('支付成功：¥50.00')
    expect(text(page, '#balance')).toBe('¥50.00')
    const ledger = await api.request({ path: '/api/devices/meter-pay/ledger' })
    expect(ledger.entries.map(e => [e.kind, e.amount])).toEqual([['payment', 50]])
    expect(ledger.balance).toBe(50)
  }, 30000)

  test('in English: the same payment in English words', async () => {
    env = installWx({ language: 'en_US' })
    env.wx.request = request
    env.storage.set('smartmeter.token', token)
    env.storage.set('smartmeter.user', { username: 'alice', role: 'user' })
    const notified = []
    payerSheet(notified)
    const page = render('recharge')
    await page.instance.onLoad({ id: 'meter-pay' })
    page.instance.pollMs = 100
    expect(text(page, '#submit')).toBe('Pay with WeChat')
    await type(page, '#amount', '20')
    await tap(page, '#submit')
    await waitFor(() => page.data.result || page.data.error || page.data.notice, 15000)

    expect(page.data.error).toBe('')
    expect(notified).toEqual([204])
    expect(env.modals.map(m => m.content)).toEqual(['Pay ¥20.00 for meter meter-pay with WeChat?'])
    expect(text(page, '#result-title')).toBe('Paid: ¥20.00')
    expect(text(page, '#result')).toContain('New balance: ¥70.00')
    expect(env.toasts).toEqual(['Paid'])
    const ledger = await api.request({ path: '/api/devices/meter-pay/ledger' })
    expect(ledger.entries.map(e => [e.kind, e.amount])).toEqual([['payment', 20], ['payment', 50]])
  }, 30000)
})
