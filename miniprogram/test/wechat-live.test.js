// WeChat login end to end: the login page's WeChat button and the me page's bind and unbind
// buttons, against a real meter-server that exchanges codes with a local stand-in for
// WeChat's code2Session API. wx.login answers the code the stand-in issued for a WeChat user;
// wx.request is carried over node's http.
//
// METER_SERVER names the meter-server binary (ctest sets it). Without it this file is
// skipped, and says so.

const crypto = require('crypto')
const fs = require('fs')
const os = require('os')
const path = require('path')
const { installWx } = require('./helpers/wx-mock.js')
const { render, text, type, tap } = require('./helpers/page.js')
const { createRequest } = require('./helpers/node-request.js')
const { startMeterServer } = require('./helpers/meter-server.js')
const { startWechatStandin } = require('./helpers/wechat-standin.js')
const config = require('../config.js')

const BINARY = process.env.METER_SERVER
const APPID = 'wxlive0123456789ab'

if (!BINARY) {
  // eslint-disable-next-line no-console
  console.warn('wechat-live.test.js skipped: set METER_SERVER to the meter-server binary to run it')
}

const describeLive = BINARY ? describe : describe.skip

// Polls until cond() holds; at most 10 s and 400 rounds.
async function waitFor(cond, what) {
  const deadline = Date.now() + 10000
  for (let i = 0; i < 400 && Date.now() < deadline; i++) {
    if (cond()) return
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  throw new Error('timed out waiting for ' + what)
}

describeLive('WeChat login against a running meter-server and a WeChat stand-in', () => {
  let server
  let wechat
  let dir
  let appSecret
  let env
  let request

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniprogram-wechat-'))
    appSecret = 'live' + crypto.randomBytes(16).toString('hex')
    const secretFile = path.join(dir, 'wechat.secret')
    fs.writeFileSync(secretFile, appSecret + '\n', { mode: 0o600 })
    wechat = await startWechatStandin(APPID, appSecret)
    server = await startMeterServer(BINARY, {
      users: [{ name: 'alice', role: 'user', password: 'alice-password' }],
      devices: [{ id: 'meter-wx', owner: 'alice' }],
      args: ['--wechat-appid', APPID, '--wechat-secret-file', secretFile, '--wechat-api-base', wechat.base]
    })
  }, 30000)

  afterAll(async () => {
    if (server) await server.stop()
    if (wechat) await wechat.stop()
    if (dir) fs.rmSync(dir, { recursive: true, force: true })
  })

  beforeEach(() => {
    env = installWx()
    request = createRequest()
    env.wx.request = request
    config.apiBaseUrl = server.base
  })

  // Taps the login page's WeChat button with wx.login answering code.
  async function wechatButton(code) {
    env.loginCode = code
    const page = render('login')
    await tap(page, '#wechat')
    await waitFor(() => !page.data.loading, 'the WeChat login to finish')
    return page
  }

  async function passwordLogin() {
    const page = render('login')
    await type(page, '#username', 'alice')
    await type(page, '#password', 'alice-password')
    await page.instance.onSubmit()
    expect(env.storage.get('smartmeter.token')).toBeTruthy()
  }

  test('bind on the me page, log in with the WeChat button, unbind', async () => {
    // Not bound yet: the WeChat button explains what to do.
    let login = await wechatButton(wechat.issue('oAliceLive_1'))
    expect(text(login, '#error')).toBe('该微信尚未绑定账号，请先用用户名和密码登录，再在「我的」页面绑定微信')
    expect(env.storage.has('smartmeter.token')).toBe(false)
    const first = request.log[request.log.length - 1]
    expect(first.path).toBe('/api/login/wechat')
    expect(first.statusCode).toBe(403)

    // Log in with the password, bind WeChat on the me page.
    await passwordLogin()
    const me = render('me')
    await me.instance.onShow()
    expect(text(me, '#wechat-state')).toBe('微信：未绑定')
    env.loginCode = wechat.issue('oAliceLive_1')
    await tap(me, '#bind')
    await waitFor(() => !me.data.binding, 'the binding to finish')
    expect(text(me, '#error')).toBeNull()
    expect(text(me, '#message')).toBe('微信绑定成功，下次可直接微信一键登录')
    await me.instance.onShow()
    expect(text(me, '#wechat-state')).toBe('微信：已绑定')

    // Log out, then the WeChat button logs straight in with our own token.
    await tap(me, '#logout')
    expect(env.storage.has('smartmeter.token')).toBe(false)
    env.navigations.length = 0
    login = await wechatButton(wechat.issue('oAliceLive_1'))
    expect(text(login, '#error')).toBeNull()
    expect(env.storage.get('smartmeter.token')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(env.storage.get('smartmeter.user')).toEqual({ username: 'alice', role: 'user' })
    expect(env.navigations).toEqual([{ kind: 'switchTab', url: '/pages/devices/index' }])
    const list = render('devices')
    await list.instance.onShow()
    expect(list.data.devices.map(d => d.id)).toEqual(['meter-wx'])

    // A code is good once: replaying it is refused, and the page says why.
    const code = wechat.issue('oAliceLive_1')
    env.storage.clear()
    await wechatButton(code)
    expect(env.storage.get('smartmeter.token')).toBeTruthy()
    env.storage.clear()
    login = await wechatButton(code)
    expect(text(login, '#error')).toBe('微信登录凭证无效或已过期，请重试')

    // Unbind on the me page; the WeChat button no longer logs in.
    await passwordLogin()
    const me2 = render('me')
    await me2.instance.onShow()
    expect(text(me2, '#wechat-state')).toBe('微信：已绑定')
    env.modalAnswer = true
    await tap(me2, '#unbind')
    await waitFor(() => !me2.data.binding && me2.data.wechatBound === false, 'the unbinding to finish')
    expect(text(me2, '#message')).toBe('已解除微信绑定')
    env.storage.clear()
    login = await wechatButton(wechat.issue('oAliceLive_1'))
    expect(text(login, '#error')).toBe('该微信尚未绑定账号，请先用用户名和密码登录，再在「我的」页面绑定微信')

    // Only the code left the phone; the secret and session keys never came back.
    const sent = request.log.filter(r => r.path === '/api/login/wechat' || r.path === '/api/me/wechat')
    sent.filter(r => r.method === 'POST').forEach(r => expect(Object.keys(r.data)).toEqual(['code']))
    expect(wechat.sessionKeys.length).toBeGreaterThanOrEqual(4)
    const seen = JSON.stringify(Array.from(env.storage.entries())) + server.output()
    expect(seen).not.toContain(appSecret)
    wechat.sessionKeys.forEach(k => expect(seen).not.toContain(k))
    expect(server.output()).not.toContain('oAliceLive_1')
  })
})
