// 把服务器的英文错误信息换成中文。/ Chinese wording for the server's error messages.
//
// The server answers errors as {"status":"error","message":"..."} in English. Messages a
// user of the mini program can meet are shown in Chinese; any other message is shown as the
// server wrote it, so nothing is ever hidden.

const EXACT = {
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

const PATTERNS = [
  [/^too many failed logins; try again in (\d+) seconds$/, m => '登录失败次数过多，请 ' + m[1] + ' 秒后再试']
]

function byStatus(statusCode) {
  if (statusCode === 401) return '请重新登录'
  if (statusCode === 403) return '没有权限执行此操作'
  if (statusCode === 404) return '请求的内容不存在'
  if (statusCode === 429) return '请求过于频繁，请稍后再试'
  if (statusCode >= 500) return '服务器暂时不可用（HTTP ' + statusCode + '），请稍后重试'
  return '请求失败（HTTP ' + statusCode + '）'
}

function translate(message, statusCode) {
  if (typeof message === 'string' && message !== '') {
    if (Object.prototype.hasOwnProperty.call(EXACT, message)) return EXACT[message]
    for (let i = 0; i < PATTERNS.length; i++) {
      const m = PATTERNS[i][0].exec(message)
      if (m) return PATTERNS[i][1](m)
    }
    return message
  }
  return byStatus(statusCode)
}

module.exports = { translate }
