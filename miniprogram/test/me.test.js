const { installWx, loginAs, ok, error } = require('./helpers/wx-mock.js')
const { render, text, tap } = require('./helpers/page.js')
const i18n = require('../utils/i18n.js')

let env
beforeEach(() => {
  env = installWx()
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/me'] = ok({ status: 'success', id: 3, username: 'alice', role: 'user', created_at: '2026-11-23T18:44:37.762Z', wechat_bound: false })
})

test('shows who is logged in and that WeChat is not bound', async () => {
  const page = render('me')
  await page.instance.onShow()
  expect(text(page, '#username')).toBe('alice')
  expect(page.data.roleText).toBe('用户')
  expect(text(page, '#wechat-state')).toBe('微信：未绑定')
  expect(text(page, '#bind')).not.toBeNull()
  expect(text(page, '#unbind')).toBeNull()
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
  // the page now offers unbinding instead
  expect(text(page, '#bind')).toBeNull()
  expect(text(page, '#unbind')).toBe('解除微信绑定')
})

test('a WeChat user bound to another account is refused with the reason', async () => {
  env.routes['POST /api/me/wechat'] = error(409, 'this WeChat user is already bound to another account')
  const page = render('me')
  await page.instance.onBindWechat()
  expect(text(page, '#error')).toBe('该微信已绑定其他账号，请先在那个账号中解除绑定')
  expect(page.data.wechatBound).not.toBe(true)
})

test('an expired code while binding shows the reason and keeps the session', async () => {
  env.routes['POST /api/me/wechat'] = error(400, 'invalid or expired WeChat login code; call wx.login again')
  const page = render('me')
  await page.instance.onBindWechat()
  expect(text(page, '#error')).toBe('微信登录凭证无效或已过期，请重试')
  expect(env.storage.get('smartmeter.token')).toBe('test-token-alice')
  expect(env.navigations).toEqual([])
})

test('a bound account shows it and unbinds after confirming', async () => {
  env.routes['GET /api/me'] = ok({ status: 'success', id: 3, username: 'alice', role: 'user', wechat_bound: true })
  env.routes['DELETE /api/me/wechat'] = ok({ status: 'success', wechat_bound: false })
  const page = render('me')
  await page.instance.onShow()
  expect(text(page, '#wechat-state')).toBe('微信：已绑定')
  expect(text(page, '#bind')).toBeNull()

  env.modalAnswer = false
  await page.instance.onUnbindWechat()
  expect(env.modals).toHaveLength(1)
  expect(env.requests.filter(r => r.method === 'DELETE')).toHaveLength(0)

  env.modalAnswer = true
  await tap(page, '#unbind')
  const del = env.requests.filter(r => r.method === 'DELETE')
  expect(del).toHaveLength(1)
  expect(del[0].path).toBe('/api/me/wechat')
  expect(del[0].header.Authorization).toBe('Bearer test-token-alice')
  expect(text(page, '#message')).toBe('已解除微信绑定')
  expect(text(page, '#wechat-state')).toBe('微信：未绑定')
  expect(text(page, '#bind')).not.toBeNull()
})

test('logging out forgets the session and returns to the login page', async () => {
  const page = render('me')
  await tap(page, '#logout')
  expect(env.storage.has('smartmeter.token')).toBe(false)
  expect(env.navigations).toEqual([{ kind: 'reLaunch', url: '/pages/login/index' }])
})

// --- the interface language ----------------------------------------------------------------

test('the language switch: English is kept in storage and used by every page from then on', async () => {
  env.routes['GET /api/devices'] = ok({ status: 'success', devices: [] })
  const page = render('me')
  await page.instance.onShow()
  expect(text(page, '#lang-system')).toBe('跟随系统')
  expect(page.querySelector('#lang-system').dom.className).toContain('tab-on')
  expect(text(page, '#logout')).toBe('退出登录')

  await tap(page, '#lang-en')
  expect(env.storage.get('smartmeter.lang')).toBe('en')
  // this page, its title and the tab bar change at once
  expect(text(page, '#logout')).toBe('Log out')
  expect(text(page, '#role')).toBe('Role: User')
  expect(text(page, '#wechat-state')).toBe('WeChat: not linked')
  expect(page.querySelector('#lang-en').dom.className).toContain('tab-on')
  expect(page.querySelector('#lang-system').dom.className).not.toContain('tab-on')
  expect(env.wx.setNavigationBarTitle).toHaveBeenLastCalledWith(expect.objectContaining({ title: 'Me' }))
  expect(env.tabBar).toEqual(['Meters', 'Alarms', 'Me'])

  // the other tab pages, shown again, and the next start of the mini program
  const list = render('devices')
  await list.instance.onShow()
  expect(text(list, '#empty')).toBe('No meters yet; ask an operator to assign your meter')
  i18n.refresh()
  const again = render('me')
  await again.instance.onShow()
  expect(text(again, '#logout')).toBe('Log out')
  expect(again.querySelector('#lang-en').dom.className).toContain('tab-on')
})

test('a phone in English, switched to Chinese and back to following the phone', async () => {
  env.language = 'en_US'
  i18n.refresh()
  const page = render('me')
  await page.instance.onShow()
  expect(text(page, '#logout')).toBe('Log out')
  expect(text(page, '#lang-zh-CN')).toBe('简体中文')

  await tap(page, '#lang-zh-CN')
  expect(env.storage.get('smartmeter.lang')).toBe('zh-CN')
  expect(text(page, '#logout')).toBe('退出登录')
  expect(text(page, '#role')).toBe('角色：用户')
  expect(env.tabBar).toEqual(['设备', '告警', '我的'])

  await tap(page, '#lang-system')
  expect(env.storage.has('smartmeter.lang')).toBe(false)
  expect(text(page, '#logout')).toBe('Log out')
  expect(env.tabBar).toEqual(['Meters', 'Alarms', 'Me'])
})

test('a message already shown goes when the language changes; logging out keeps the language', async () => {
  env.routes['POST /api/me/wechat'] = ok({ status: 'success' })
  const page = render('me')
  await page.instance.onShow()
  await tap(page, '#bind')
  expect(text(page, '#message')).toBe('微信绑定成功，下次可直接微信一键登录')
  await tap(page, '#lang-en')
  expect(text(page, '#message')).toBeNull()
  expect(text(page, '#unbind')).toBe('Unlink WeChat')

  await tap(page, '#logout')
  expect(env.storage.has('smartmeter.token')).toBe(false)
  expect(env.storage.get('smartmeter.lang')).toBe('en')
})
