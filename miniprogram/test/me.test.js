const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, text, tap } = require('./helpers/page.js')

let env
beforeEach(() => {
  env = installWx()
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/me'] = ok({ status: 'success', id: 3, username: 'alice', role: 'user', created_at: '2026-11-23T18:44:37.762Z' })
})

test('shows who is logged in', async () => {
  const page = render('me')
  await page.instance.onShow()
  expect(text(page, '#username')).toBe('alice')
  expect(page.data.roleText).toBe('用户')
})

test('binding WeChat sends the wx.login code with the session token', async () => {
  env.loginCode = 'bind-code-42'
  env.routes['POST /api/me/wechat'] = ok({ status: 'success' })
  const page = render('me')
  await tap(page, '#bind')
  expect(env.wx.login).toHaveBeenCalledTimes(1)
  const req = env.requests.find(r => r.method === 'POST')
  expect(req.path).toBe('/api/me/wechat')
  expect(req.data).toEqual({ code: 'bind-code-42' })
  expect(req.header.Authorization).toBe('Bearer test-token-alice')
  expect(text(page, '#message')).toBe('微信绑定成功，下次可直接微信一键登录')
})

test('a failed binding shows the server message', async () => {
  env.routes['POST /api/me/wechat'] = error(409, 'this WeChat user is already bound to another account')
  const page = render('me')
  await page.instance.onBindWechat()
  expect(text(page, '#error')).toBe('this WeChat user is already bound to another account')
})

test('logging out forgets the session and returns to the login page', async () => {
  const page = render('me')
  await tap(page, '#logout')
  expect(env.storage.has('smartmeter.token')).toBe(false)
  expect(env.navigations).toEqual([{ kind: 'reLaunch', url: '/pages/login/index' }])
})
