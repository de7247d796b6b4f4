const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, text, type, tap } = require('./helpers/page.js')

let env
beforeEach(() => {
  env = installWx()
})

describe('login page: username and password', () => {
  test('a successful login stores the token and opens the device list', async () => {
    env.routes['POST /api/login'] = ok({
      status: 'success', token: 'jwt-alice', token_type: 'Bearer', expires_in: 43200, username: 'alice', role: 'user'
    })
    const page = render('login')
    page.instance.onLoad({})
    await type(page, '#username', ' alice ')
    await type(page, '#password', 'alice-password')
    await tap(page, '#submit')

    expect(env.requests).toHaveLength(1)
    const req = env.requests[0]
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/api/login')
    expect(req.data).toEqual({ username: 'alice', password: 'alice-password' })
    expect(req.header.Authorization).toBeUndefined()
    expect(env.storage.get('smartmeter.token')).toBe('jwt-alice')
    expect(env.storage.get('smartmeter.user')).toEqual({ username: 'alice', role: 'user' })
    expect(env.navigations).toEqual([{ kind: 'switchTab', url: '/pages/devices/index' }])
    expect(env.toasts).toContain('登录成功')
    expect(text(page, '#error')).toBeNull()
    expect(page.data.loading).toBe(false)
  })

  test('bad credentials show the server message (in Chinese) and store nothing', async () => {
    env.routes['POST /api/login'] = error(401, 'Invalid credentials')
    const page = render('login')
    await type(page, '#username', 'alice')
    await type(page, '#password', 'wrong')
    await page.instance.onSubmit()

    expect(text(page, '#error')).toBe('用户名或密码错误')
    expect(env.storage.has('smartmeter.token')).toBe(false)
    // A failed login is not a lost session: no jump back to the login page.
    expect(env.navigations).toEqual([])
    expect(page.data.loading).toBe(false)
  })

  test('throttled logins show how long to wait', async () => {
    env.routes['POST /api/login'] = error(429, 'too many failed logins; try again in 300 seconds', { 'Retry-After': '300' })
    const page = render('login')
    await type(page, '#username', 'alice')
    await type(page, '#password', 'guess')
    await page.instance.onSubmit()
    expect(text(page, '#error')).toBe('登录失败次数过多，请 300 秒后再试')
  })

  test('an unknown server message is shown as the server wrote it', async () => {
    env.routes['POST /api/login'] = error(400, 'password must be at most 1024 bytes without NUL characters')
    const page = render('login')
    await type(page, '#username', 'alice')
    await type(page, '#password', 'x')
    await page.instance.onSubmit()
    expect(text(page, '#error')).toBe('password must be at most 1024 bytes without NUL characters')
  })

  test('empty fields are refused before any request', async () => {
    const page = render('login')
    await type(page, '#username', 'alice')
    await page.instance.onSubmit()
    expect(text(page, '#error')).toBe('请输入用户名和密码')
    expect(env.requests).toHaveLength(0)
  })

  test('a network failure says so', async () => {
    env.routes['POST /api/login'] = { fail: 'net::ERR_CONNECTION_REFUSED' }
    const page = render('login')
    await type(page, '#username', 'alice')
    await type(page, '#password', 'pw')
    await page.instance.onSubmit()
    expect(text(page, '#error')).toBe('网络连接失败，请检查网络后重试')
  })

  test('a stored session goes straight to the device list', () => {
    loginAs(env, 'alice', 'user')
    const page = render('login')
    page.instance.onLoad({})
    expect(env.navigations).toEqual([{ kind: 'switchTab', url: '/pages/devices/index' }])
  })
})

describe('login page: WeChat', () => {
  test('wx.login, then POST /api/login/wechat with the code alone; the token is stored', async () => {
    env.loginCode = '081abcDEFcode'
    env.routes['POST /api/login/wechat'] = ok({ status: 'success', token: 'jwt-wechat', username: 'alice', role: 'user' })
    const page = render('login')
    await tap(page, '#wechat')

    expect(env.wx.login).toHaveBeenCalledTimes(1)
    expect(env.requests).toHaveLength(1)
    const req = env.requests[0]
    expect(req.method).toBe('POST')
    expect(req.path).toBe('/api/login/wechat')
    // Only the one-time code leaves the phone: no user info, no token, nothing else.
    expect(req.data).toEqual({ code: '081abcDEFcode' })
    expect(Object.keys(req.header)).toEqual(['Content-Type'])
    expect(env.storage.get('smartmeter.token')).toBe('jwt-wechat')
    expect(env.navigations).toEqual([{ kind: 'switchTab', url: '/pages/devices/index' }])
  })

  test('a token-only answer is completed with GET /api/me', async () => {
    env.routes['POST /api/login/wechat'] = ok({ status: 'success', token: 'jwt-wechat' })
    env.routes['GET /api/me'] = req => {
      expect(req.header.Authorization).toBe('Bearer jwt-wechat')
      return ok({ status: 'success', id: 2, username: 'op', role: 'operator' })
    }
    const page = render('login')
    await page.instance.onWechatLogin()
    expect(env.storage.get('smartmeter.user')).toEqual({ username: 'op', role: 'operator' })
    expect(env.navigations).toEqual([{ kind: 'switchTab', url: '/pages/devices/index' }])
  })

  test('a WeChat user bound to no account is told how to bind', async () => {
    env.routes['POST /api/login/wechat'] = error(403,
      'no account is bound to this WeChat user; log in with your user name and password, then bind WeChat to your account')
    const page = render('login')
    await page.instance.onWechatLogin()
    expect(text(page, '#error')).toBe('该微信尚未绑定账号，请先用用户名和密码登录，再在「我的」页面绑定微信')
    expect(env.storage.has('smartmeter.token')).toBe(false)
    expect(env.navigations).toEqual([])
  })

  test('WeChat being unreachable says so and keeps the page usable', async () => {
    env.routes['POST /api/login/wechat'] = error(503, 'cannot reach WeChat; try again shortly', { 'Retry-After': '5' })
    const page = render('login')
    await page.instance.onWechatLogin()
    expect(text(page, '#error')).toBe('暂时无法连接微信服务器，请稍后重试')
    expect(page.data.loading).toBe(false)
    expect(env.storage.has('smartmeter.token')).toBe(false)
  })

  test('a failed wx.login sends nothing', async () => {
    env.loginCode = ''
    const page = render('login')
    await page.instance.onWechatLogin()
    expect(env.requests).toHaveLength(0)
    expect(text(page, '#error')).toBe('微信登录失败，请稍后重试')
  })
})
