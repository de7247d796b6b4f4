// Every page in both languages: the same answers rendered for a phone in Chinese and one in
// English, each showing its own words (the English pages with no Chinese left, but for the
// server's own data such as tariff labels and the language switch's 简体中文), and the
// server's error messages in Chinese or as the server wrote them.
const { installWx, loginAs, ok, error, waitFor } = require('./helpers/wx-mock.js')
const { render, text, pageText, type, tap } = require('./helpers/page.js')
const { createCanvas } = require('./helpers/canvas.js')
const chart = require('../utils/chart.js')
const { CUT_DEVICE, CHARGED_DEVICE, DAY_ENERGY, MONTH_ENERGY, LEDGER } = require('./fixtures/prepaid.js')
const { OPEN } = require('./fixtures/alarms.js')

const CJK = /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/

const DEVICES = {
  status: 'success',
  devices: [
    {
      device_id: 'demo', balance: 0.1, status: 'offline', status_at: '2026-11-23T18:46:18.698Z',
      latest: { timestamp: '2026-11-23T18:46:10.192Z', seq: 16, voltage: 230, current: 10, power_w: 2300, energy_wh: 10.221 }
    },
    { device_id: 'meter-02', balance: 100, status: 'unknown', status_at: null, latest: null }
  ]
}

const THREE = {
  status: 'success', device_id: 'meter-3p', balance: 820.5, status: 'online', relay: 'on',
  latest: {
    timestamp: '2026-11-23T18:46:02.000Z', seq: 77, wiring: '3p4w', sequence: 'acb',
    voltage: 228.83, current: 10.5, power_w: 6479.62, pf: 0.8985,
    voltage_a: 231.2, voltage_b: 228.4, voltage_c: 226.9,
    current_a: 10.5, current_b: 12.6, current_c: 8.4, current_n: 3.7,
    power_w_a: 2200.15, power_w_b: 2466.83, power_w_c: 1812.64
  }
}

const ORDER = 'SM20261207ABCDEFGHIJ0123456789'

// What each case shows, in each language. run(env) opens the page and does what the case
// needs; it resolves the page.
const CASES = [
  {
    name: 'login, and a refused password',
    run: async env => {
      env.routes['POST /api/login'] = error(401, 'Invalid credentials')
      const page = render('login')
      page.instance.onLoad({})
      await type(page, '#username', 'alice')
      await type(page, '#password', 'wrong')
      await page.instance.onSubmit()
      return page
    },
    'zh-CN': { title: '登录', shows: ['智能电表', '用户名', '密码', '微信一键登录', '绑定微信', '用户名或密码错误'] },
    en: { title: 'Log in', shows: ['Smart Meter', 'User name', 'Password', 'Log in with WeChat', 'link WeChat on the Me page', 'Invalid credentials'] }
  },
  {
    name: 'device list',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/devices'] = ok(DEVICES)
      const page = render('devices')
      await page.instance.onShow()
      return page
    },
    'zh-CN': { title: '我的电表', tabs: ['设备', '告警', '我的'], shows: ['余额（元）', '功率', '电压 / 电流', '离线', '未知', '最新数据：暂无数据', '下拉刷新'] },
    en: { title: 'My meters', tabs: ['Meters', 'Alarms', 'Me'], shows: ['Balance (yuan)', 'Power', 'Voltage / current', 'Offline', 'Unknown', 'Latest reading: No data yet', 'pull down to refresh'] }
  },
  {
    name: 'device cut off for arrears',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/devices/meter-cut'] = ok(CUT_DEVICE)
      env.routes['GET /api/device/data/meter-cut'] = ok([])
      const page = render('device')
      await page.instance.onLoad({ id: 'meter-cut' })
      await page.instance.onShow()
      page.instance.onUnload()
      return page
    },
    'zh-CN': {
      title: 'meter-cut',
      shows: ['余额（元）', '充值', '供电状态：已断电', '余额不足，电表已断电。充值后将自动恢复供电。', '电费与账单', '实时数据', '每 5 秒刷新',
        '有功功率', '累计电能', '读数时间：', '历史曲线', '1小时', '24小时', '7天', '用电量', '该时间段内暂无数据']
    },
    en: {
      title: 'meter-cut',
      shows: ['Balance (yuan)', 'Recharge', 'Supply: Cut off', 'The balance ran out and the meter has cut the supply. A recharge restores it automatically.',
        'Cost and ledger', 'Live values', 'refreshed every 5 s', 'Active power', 'Energy', 'Read at: ', 'History', '1 h', '24 h', '7 d', 'Energy used',
        'No data in this period']
    }
  },
  {
    name: 'three-phase device, supplied',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/devices/meter-3p'] = ok(THREE)
      env.routes['GET /api/device/data/meter-3p'] = ok([])
      const page = render('device')
      await page.instance.onLoad({ id: 'meter-3p' })
      await page.instance.onShow()
      page.instance.onUnload()
      return page
    },
    'zh-CN': { title: 'meter-3p', shows: ['供电状态：供电中', '在线', '总有功功率', '平均电压', '分相数据', '三相四线', '相序错误（ACB）', 'A 相', 'C 相', '中性线', '电压 V'] },
    en: { title: 'meter-3p', shows: ['Supply: Supplied', 'Online', 'Total active power', 'Mean voltage', 'Per phase', 'Three-phase four-wire', 'Wrong phase sequence (ACB)', 'Phase A', 'Phase C', 'Neutral', 'Voltage V'] }
  },
  {
    name: 'daily cost by tariff period and the ledger',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/devices/meter-02/energy'] = req => ok(req.query.period === 'month' ? MONTH_ENERGY : DAY_ENERGY)
      env.routes['GET /api/devices/meter-02/ledger'] = ok(LEDGER)
      const page = render('billing')
      await page.instance.onLoad({ id: 'meter-02' })
      return page
    },
    'zh-CN': {
      title: '电费与账单',
      shows: ['当前余额 ¥37.80', '电费', '按日', '按月', '近 30 天合计：¥12.20', '1.0237 元/kWh', '余额流水', '最近 50 笔', '柜台充值', '微信支付', '电费扣款', '余额 ¥40.92']
    },
    en: {
      title: 'Cost and ledger',
      shows: ['Balance ¥37.80', 'Cost', 'Daily', 'Monthly', 'Last 30 days: ¥12.20', '1.0237 yuan/kWh', 'Balance changes', 'newest 50', 'Counter recharge', 'WeChat Pay', 'Electricity charge', 'Balance ¥40.92']
    },
    // the tariff's own period names, as the operator wrote them
    data: ['谷', '峰', '平']
  },
  {
    name: 'monthly cost, a flat rate month',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/devices/meter-02/energy'] = req => ok(req.query.period === 'month' ? MONTH_ENERGY : DAY_ENERGY)
      env.routes['GET /api/devices/meter-02/ledger'] = ok(LEDGER)
      const page = render('billing')
      await page.instance.onLoad({ id: 'meter-02' })
      await page.instance.onPeriod({ currentTarget: { dataset: { period: 'month' } } })
      return page
    },
    'zh-CN': { title: '电费与账单', shows: ['近 12 个月合计：¥312.50', '统一电价', '0.7508 元/kWh'] },
    en: { title: 'Cost and ledger', shows: ['Last 12 months: ¥312.50', 'Flat rate', '0.7508 yuan/kWh'] },
    data: ['谷', '峰', '平']
  },
  {
    name: 'a tenant pays with WeChat Pay',
    run: async env => {
      loginAs(env, 'alice', 'user')
      let balance = 100
      const order = { state: 'created' }
      env.routes['GET /api/devices/meter-01'] = () => ok({ status: 'success', device_id: 'meter-01', balance, status: 'online', latest: null })
      env.routes['POST /api/devices/meter-01/payments'] = { statusCode: 201, data: { status: 'success', out_trade_no: ORDER, amount: 50, pay_params: { package: 'prepay_id=wx1' } } }
      env.routes['GET /api/devices/meter-01/payments/' + ORDER] = () => ok({ status: 'success', out_trade_no: ORDER, state: order.state, amount: 50 })
      env.onPayment = () => { order.state = 'paid'; balance = 150 }
      const page = render('recharge')
      await page.instance.onLoad({ id: 'meter-01' })
      page.instance.pollMs = 1
      await type(page, '#amount', '50')
      await tap(page, '#submit')
      await waitFor(() => page.data.result || page.data.error)
      expect(env.payments).toHaveLength(1)
      return page
    },
    'zh-CN': { title: '充值', modal: '微信支付为电表 meter-01 充值 ¥50.00？', toast: '支付成功', shows: ['当前余额', '微信支付金额（元）', '支付成功：¥50.00', '新余额：¥150.00'] },
    en: { title: 'Recharge', modal: 'Pay ¥50.00 for meter meter-01 with WeChat?', toast: 'Paid', shows: ['Balance', 'Pay with WeChat (yuan)', 'Paid: ¥50.00', 'New balance: ¥150.00'] }
  },
  {
    name: 'an operator recharges at the counter; a lost answer can be retried',
    run: async env => {
      loginAs(env, 'counter', 'operator')
      env.routes['GET /api/devices/meter-01'] = ok({ status: 'success', device_id: 'meter-01', balance: 100, status: 'online', latest: null })
      env.routes['POST /api/device/recharge/meter-01'] = { fail: 'timeout' }
      const page = render('recharge')
      await page.instance.onLoad({ id: 'meter-01' })
      await type(page, '#amount', '20')
      await page.instance.onSubmit()
      return page
    },
    'zh-CN': { title: '充值', modal: '为电表 meter-01 充值 ¥20.00？', shows: ['柜台充值金额（元）', '确认充值', '请求超时，请检查网络后重试（可直接重试，不会重复充值）'] },
    en: { title: 'Recharge', modal: 'Recharge meter meter-01 with ¥20.00?', shows: ['Counter recharge (yuan)', 'The request timed out; check the network and try again (you can retry; nothing is credited twice)'] }
  },
  {
    name: 'a payment the server refuses',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/devices/meter-01'] = ok({ status: 'success', device_id: 'meter-01', balance: 100, status: 'online', latest: null })
      env.routes['POST /api/devices/meter-01/payments'] = error(503, 'online payment is not configured on this server')
      const page = render('recharge')
      await page.instance.onLoad({ id: 'meter-01' })
      await type(page, '#amount', '1.5')
      await page.instance.onSubmit()
      return page
    },
    'zh-CN': { title: '充值', shows: ['服务器尚未开通在线支付，请联系物业办理充值'] },
    en: { title: 'Recharge', shows: ['online payment is not configured on this server'] }
  },
  {
    name: 'alarms',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/alarms'] = req => ok({ status: 'success', alarms: req.query.state === 'open' ? OPEN : [], next_before: null, total: req.query.state === 'open' ? OPEN.length : 0 })
      const page = render('alarms')
      await page.instance.onShow()
      await tap(page, '#alarm-29 .head')
      return page
    },
    'zh-CN': { title: '告警', tabs: ['设备', '告警', '我的'], shows: ['未确认', '未恢复', '共 4 条告警', '设备离线', '严重', '过电压', '已确认', '测量值 250.4 V，限值 235.4 V', '备注：crew on the way', '查看设备', '未恢复的排在前面'] },
    en: { title: 'Alarms', tabs: ['Meters', 'Alarms', 'Me'], shows: ['Unacknowledged', 'Open', '4 alarms', 'Meter offline', 'Critical', 'Over-voltage', 'Acknowledged', 'Measured 250.4 V, limit 235.4 V', 'Note: crew on the way', 'Open the meter', 'open ones come first'] }
  },
  {
    name: 'me',
    run: async env => {
      loginAs(env, 'alice', 'user')
      env.routes['GET /api/me'] = ok({ status: 'success', id: 3, username: 'alice', role: 'user', wechat_bound: false })
      const page = render('me')
      await page.instance.onShow()
      return page
    },
    'zh-CN': { title: '我的', tabs: ['设备', '告警', '我的'], shows: ['角色：用户', '微信：未绑定', '绑定微信', '退出登录', '语言', '跟随系统', '简体中文', 'English', '服务器：'] },
    en: { title: 'Me', tabs: ['Meters', 'Alarms', 'Me'], shows: ['Role: User', 'WeChat: not linked', 'Link WeChat', 'Log out', 'Language', 'System', '简体中文', 'English', 'Server: '] },
    // each language is named in its own words
    data: ['简体中文']
  }
]

const PHONES = { 'zh-CN': 'zh_CN', en: 'en_US' }

beforeEach(() => {
  jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(createCanvas(320, 240)))
})

afterEach(() => {
  jest.restoreAllMocks()
})

describe.each(Object.keys(PHONES))('a phone in %s', lang => {
  test.each(CASES.map(c => [c.name, c]))('%s', async (name, c) => {
    const env = installWx({ language: PHONES[lang] })
    const want = c[lang]
    const page = await c.run(env)
    const shown = pageText(page)
    want.shows.forEach(s => expect(shown).toContain(s))
    const titles = env.wx.setNavigationBarTitle.mock.calls.map(call => call[0].title)
    expect(titles[titles.length - 1]).toBe(want.title)
    if (want.tabs) expect(env.tabBar).toEqual(want.tabs)
    if (want.modal) expect(env.modals.map(m => m.content)).toContain(want.modal)
    if (want.toast) expect(env.toasts).toContain(want.toast)
    // the other language's words are nowhere on the page
    const other = c[lang === 'en' ? 'zh-CN' : 'en']
    other.shows.filter(s => !want.shows.some(w => w.includes(s)) && !(c.data || []).includes(s)).forEach(s => expect(shown).not.toContain(s))
    if (lang === 'en') {
      const left = (c.data || []).reduce((t, d) => t.split(d).join(''), shown)
      expect(left).not.toMatch(CJK)
    }
  })
})
