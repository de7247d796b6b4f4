// 简体中文界面文字。/ The interface in simplified Chinese.
//
// The only file of the mini program with Chinese text in it (test/i18n.test.js checks):
// every page and util takes its words from here or from en.js through utils/i18n.js.
// Keys and {placeholders} are the same in both tables. `server` maps the server's English
// error messages to Chinese (utils/messages.js); in English they are shown as written.

const strings = {
  langName: '简体中文',
  app: {
    updateTitle: '发现新版本',
    updateContent: '新版本已经准备好，是否重启小程序？'
  },
  tab: { devices: '设备', alarms: '告警', me: '我的' },
  status: { online: '在线', offline: '离线', unknown: '未知' },
  relay: { on: '供电中', off: '已断电' },
  login: {
    title: '登录',
    brand: '智能电表',
    tagline: '用电监测 · 余额 · 告警',
    username: '用户名',
    usernamePlaceholder: '请输入用户名',
    password: '密码',
    passwordPlaceholder: '请输入密码',
    submit: '登录',
    or: '或',
    wechat: '微信一键登录',
    wechatHint: '首次使用请先用用户名和密码登录，并在「我的」页面绑定微信。',
    missing: '请输入用户名和密码',
    success: '登录成功',
    failed: '登录失败'
  },
  devices: {
    title: '我的电表',
    empty: '暂无设备，请联系运营人员绑定电表',
    balance: '余额（元）',
    power: '功率',
    voltageCurrent: '电压 / 电流',
    latest: '最新数据：',
    noData: '暂无数据',
    searchPlaceholder: '搜索电表编号或名称',
    shown: '已显示 {shown} / 共 {total} 台',
    loadingMore: '加载中…',
    noMore: '已全部显示',
    moreHint: '上拉加载更多',
    countTotal: '总数',
    countOnline: '在线',
    countOffline: '离线',
    countUnknown: '从未上线',
    countArrears: '欠费',
    countAlarms: '有告警',
    filtered: '筛选：{name}（再点一次取消）',
    updated: '更新于 {time} · 下拉刷新'
  },
  device: {
    title: '电表详情',
    balance: '余额（元）',
    recharge: '充值',
    relay: '供电状态：',
    billing: '电费与账单 ›',
    cutOff: '余额不足，电表已断电。充值后将自动恢复供电。',
    live: '实时数据',
    refreshEvery: '每 {seconds} 秒刷新',
    noData: '暂无数据',
    readAt: '读数时间：',
    phases: '分相数据',
    sequenceWrong: '相序错误（ACB）：有两相接反，请检查接线',
    phase: '相',
    phaseVoltage: '电压 V',
    phaseCurrent: '电流 A',
    phasePower: '有功 W',
    history: '历史曲线',
    loading: '加载中…',
    chartEmpty: '该时间段内暂无数据'
  },
  field: {
    power_w: '有功功率',
    voltage: '电压',
    current: '电流',
    pf: '功率因数',
    freq_hz: '频率',
    energy_wh: '累计电能',
    reactive_var: '无功功率',
    apparent_va: '视在功率',
    thd_v: '电压畸变率',
    thd_i: '电流畸变率',
    total_power_w: '总有功功率',
    mean_voltage: '平均电压',
    mean_current: '平均电流'
  },
  phase: {
    a: 'A 相',
    b: 'B 相',
    c: 'C 相',
    n: '中性线',
    wiring_3p4w: '三相四线',
    wiring_3p3w: '三相三线'
  },
  chart: {
    range_1h: '1小时',
    range_24h: '24小时',
    range_7d: '7天',
    power: '功率',
    voltage: '电压',
    current: '电流',
    energy: '用电量',
    average: '平均{metric} ({unit})',
    peak: '最大{metric} ({unit})',
    total: '{metric} ({unit})'
  },
  time: {
    dayHour: '{day}日{hour}时',
    justNow: '刚刚',
    minutesAgo: '{n} 分钟前',
    hoursAgo: '{n} 小时前',
    daysAgo: '{n} 天前'
  },
  amount: {
    empty: '请输入充值金额',
    format: '金额格式不正确：请输入正数，最多两位小数，如 100 或 100.50',
    tooLarge: '单次充值不能超过 10000000.00 元',
    notPositive: '充值金额必须大于 0'
  },
  alarm: {
    valueLimit: '测量值 {value}，限值 {limit}',
    ackedBy: '{who} 于 {time} 确认',
    clearedAt: '{time} 已恢复',
    kind: {
      voltage_over: '过电压',
      voltage_under: '欠电压',
      frequency: '频率偏差',
      thd_v: '电压谐波畸变',
      current_over: '过电流',
      load_over: '超负载',
      pf_low: '功率因数低',
      voltage_sag: '电压暂降',
      voltage_swell: '电压暂升',
      offline: '设备离线',
      relay_mismatch: '继电器状态不符',
      balance_low: '余额不足',
      cutoff: '欠费断电'
    },
    severity: { critical: '严重', major: '重要', minor: '一般' },
    state: { raised: '未确认', acknowledged: '已确认', cleared: '已恢复' }
  },
  alarms: {
    title: '告警',
    raised: '未确认',
    open: '未恢复',
    allClear: '暂无告警',
    site: '站点：',
    note: '备注：',
    openDevice: '查看设备 ›',
    notePlaceholder: '备注（可选），如：已派人处理',
    ack: '确认告警',
    acked: '已确认',
    noteTooLong: '备注最多 255 字节',
    more: '加载更多',
    loading: '加载中…',
    total: '共 {count} 条告警',
    totalOne: '共 1 条告警',
    footer: '告警由服务器根据实时数据判断，未恢复的排在前面'
  },
  billing: {
    title: '电费与账单',
    balance: '当前余额 ',
    cost: '电费',
    day: '按日',
    month: '按月',
    totalDay: '近 30 天合计：',
    totalMonth: '近 12 个月合计：',
    loading: '加载中…',
    empty: '暂无用电和电费记录',
    flatRate: '统一电价',
    priceUnit: '元/kWh',
    ledger: '余额流水',
    ledgerLimit: '最近 {count} 笔',
    ledgerEmpty: '暂无流水',
    balanceAfter: '余额 ',
    kind_recharge: '柜台充值',
    kind_payment: '微信支付',
    kind_charge: '电费扣款'
  },
  recharge: {
    title: '充值',
    balance: '当前余额',
    counterAmount: '柜台充值金额（元）',
    payAmount: '微信支付金额（元）',
    placeholder: '如 100 或 100.50',
    counterSubmit: '确认充值',
    paySubmit: '微信支付',
    counterConfirmTitle: '确认充值',
    payConfirmTitle: '确认支付',
    counterConfirm: '为电表 {id} 充值 ¥{amount}？',
    payConfirm: '微信支付为电表 {id} 充值 ¥{amount}？',
    counterDone: '充值成功',
    payDone: '支付成功',
    result: '{title}：¥{amount}',
    newBalance: '新余额：',
    retry: '{message}（可直接重试，不会重复充值）',
    payLate: '支付已完成，到账可能稍有延迟，请稍后刷新余额',
    payCancelled: '已取消支付',
    payIncomplete: '支付未完成：{detail}',
    payFailed: '支付失败，请重试'
  },
  me: {
    title: '我的',
    role: '角色：',
    role_admin: '管理员',
    role_operator: '运营人员',
    role_user: '用户',
    wechatBound: '微信：已绑定',
    wechatUnbound: '微信：未绑定',
    bind: '绑定微信（下次可微信一键登录）',
    unbind: '解除微信绑定',
    logout: '退出登录',
    server: '服务器：',
    bindDone: '微信绑定成功，下次可直接微信一键登录',
    unbindDone: '已解除微信绑定',
    unbindTitle: '解除微信绑定',
    unbindConfirm: '解除后将不能用微信一键登录此账号，确定解除吗？',
    language: '语言',
    followSystem: '跟随系统'
  },
  api: {
    loginFirst: '请先登录',
    timeout: '请求超时，请检查网络后重试',
    network: '网络连接失败，请检查网络后重试',
    wechatNoCode: '微信登录失败：未取得登录凭证',
    wechatFailed: '微信登录失败，请稍后重试',
    badSession: '服务器返回的登录结果无效'
  },
  http: {
    status_401: '请重新登录',
    status_403: '没有权限执行此操作',
    status_404: '请求的内容不存在',
    status_429: '请求过于频繁，请稍后再试',
    unavailable: '服务器暂时不可用（HTTP {code}），请稍后重试',
    failed: '请求失败（HTTP {code}）'
  }
}

// The server's error messages (docs/api.md) a user of the mini program can meet.
const server = {
  'Invalid credentials': '用户名或密码错误',
  'no account is bound to this WeChat user; log in with your user name and password, then bind WeChat to your account':
    '该微信尚未绑定账号，请先用用户名和密码登录，再在「我的」页面绑定微信',
  'this WeChat user is already bound to another account': '该微信已绑定其他账号，请先在那个账号中解除绑定',
  'your account is already bound to another WeChat user; unbind it first (DELETE /api/me/wechat)':
    '您的账号已绑定另一个微信，请先解除绑定',
  'no WeChat user is bound to your account': '您的账号尚未绑定微信',
  'invalid or expired WeChat login code; call wx.login again': '微信登录凭证无效或已过期，请重试',
  'WeChat refused this login (the WeChat account is under a security restriction)':
    '微信拒绝了本次登录（该微信账号存在安全限制）',
  'WeChat is busy; try again shortly': '微信服务繁忙，请稍后重试',
  'too many WeChat logins right now; try again in a minute': '微信登录人数过多，请一分钟后再试',
  'too many WeChat logins in progress; try again shortly': '微信登录人数过多，请稍后重试',
  'cannot reach WeChat; try again shortly': '暂时无法连接微信服务器，请稍后重试',
  'WeChat gave an unusable answer; try again shortly': '微信服务器返回异常，请稍后重试',
  'WeChat login is misconfigured on this server': '服务器的微信登录配置有误，请联系管理员',
  'WeChat refused this login': '微信拒绝了本次登录',
  'WeChat login is not enabled on this server': '服务器未开启微信登录，请使用用户名和密码登录',
  'device not found': '设备不存在，或您无权查看该设备',
  'database unavailable, try again shortly': '服务器数据库暂时不可用，请稍后重试',
  'operator or admin role required': '需要运营人员或管理员权限',
  'token expired': '登录已过期，请重新登录',
  'token revoked; log in again': '登录已失效，请重新登录',
  'the account of this token no longer exists': '账号已不存在，请重新登录',
  'amount must be more than 0 and at most 10000000.00': '充值金额必须大于 0 且不超过 10000000.00 元',
  'amount must be yuan with at most two decimals, like 100.50': '充值金额最多两位小数，如 100.50',
  'the balance would exceed its maximum': '充值后余额将超过上限',
  'this Idempotency-Key was already used for a different recharge': '充值请求冲突，请重新输入金额后再试',
  'internal error': '服务器内部错误，请稍后重试',
  'only operators and admins recharge at the counter; tenants pay online (POST /api/devices/:id/payments)':
    '柜台充值仅限物业或运营人员办理，请使用微信支付充值',
  'link this account to WeChat first (log in from the mini program), then pay':
    '请先在「我的」页面绑定微信，再进行支付',
  'this account is linked to WeChat under another app; log in from this mini program again':
    '您的账号绑定的是其他小程序的微信，请在本小程序中重新登录并绑定',
  'only a user bound to this device can pay for it': '只有绑定该电表的用户才能为其支付',
  'online payment is not configured on this server': '服务器尚未开通在线支付，请联系物业办理充值',
  'WeChat Pay cannot be reached; try again shortly': '暂时无法连接微信支付，请稍后重试',
  'WeChat Pay refused the order; try again later': '微信支付拒绝了本次下单，请稍后重试',
  'amount is more than WeChat Pay takes at once': '金额超过微信支付单笔上限',
  'amount must be yuan with at most two decimals, like "50.00"': '支付金额最多两位小数，如 50.00'
}

// Server messages with a number in them: the pattern's groups fill {1}, {2}, ...
const serverPatterns = [
  [/^too many failed logins; try again in (\d+) seconds$/, '登录失败次数过多，请 {1} 秒后再试']
]

module.exports = { strings, server, serverPatterns }
