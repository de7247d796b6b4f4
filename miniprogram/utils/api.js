// meter-server REST API 客户端（见仓库 docs/api.md）。/ Client of the meter-server REST API.
//
// - The base URL comes from config.js.
// - The JWT lives in wx storage; every call but the logins sends it as a Bearer token.
// - A 401 on an authenticated call clears the session and goes back to the login page.
// - openAlarmStream() follows the live alarm stream (GET /api/alarms/stream) with wx.request's
//   enableChunked, reconnecting with a backoff until it is closed.
// - Errors reject with apiError(): an Error whose message is the server's {"status":"error","message"}
//   (in Chinese where utils/messages.js knows it and the interface is in Chinese).

const config = require('../config.js')
const messages = require('./messages.js')
const i18n = require('./i18n.js')
const sse = require('./sse.js')

const TOKEN_KEY = 'smartmeter.token'
const USER_KEY = 'smartmeter.user'
const LOGIN_PAGE = '/pages/login/index'

// An Error with the HTTP status (0 when no answer came back: network failure, timeout), the
// server's own message, and whether retrying the same request (with the same
// Idempotency-Key) makes sense because nothing was decided. A plain Error rather than a
// subclass, which transpiling to ES5 would not keep intact.
function apiError(message, statusCode, serverMessage) {
  const err = new Error(message)
  err.name = 'ApiError'
  err.statusCode = statusCode
  err.serverMessage = serverMessage || ''
  err.retryable = statusCode === 0 || statusCode >= 500
  return err
}

function getToken() {
  return wx.getStorageSync(TOKEN_KEY) || ''
}

function getUser() {
  const u = wx.getStorageSync(USER_KEY)
  return u && typeof u === 'object' ? u : null
}

let redirecting = false

function setSession(token, user) {
  wx.setStorageSync(TOKEN_KEY, token)
  if (user) wx.setStorageSync(USER_KEY, user)
  else wx.removeStorageSync(USER_KEY)
  redirecting = false
}

function clearSession() {
  wx.removeStorageSync(TOKEN_KEY)
  wx.removeStorageSync(USER_KEY)
}

function isStaff(user) {
  return !!user && (user.role === 'operator' || user.role === 'admin')
}

function onLoginPage() {
  if (typeof getCurrentPages !== 'function') return false
  const pages = getCurrentPages()
  const top = pages && pages.length ? pages[pages.length - 1] : null
  return !!top && ('/' + top.route) === LOGIN_PAGE
}

function redirectToLogin() {
  if (redirecting || onLoginPage()) return
  redirecting = true
  wx.reLaunch({
    url: LOGIN_PAGE,
    complete() { redirecting = false }
  })
}

function baseUrl() {
  return String(config.apiBaseUrl || '').replace(/\/+$/, '')
}

function errorFromResponse(res) {
  const body = res.data
  const serverMessage = body && typeof body === 'object' && body.status === 'error' &&
    typeof body.message === 'string' ? body.message : ''
  return apiError(messages.translate(serverMessage, res.statusCode), res.statusCode, serverMessage)
}

// One API call. options: {method, path, data, header, auth (default true)}.
// Resolves with the parsed JSON body of a 2xx answer.
function request(options) {
  const method = options.method || 'GET'
  const auth = options.auth !== false
  return new Promise((resolve, reject) => {
    const header = Object.assign({ 'Content-Type': 'application/json' }, options.header || {})
    if (auth) {
      const token = getToken()
      if (!token) {
        redirectToLogin()
        reject(apiError(i18n.t('api.loginFirst'), 401, ''))
        return
      }
      header.Authorization = 'Bearer ' + token
    }
    const req = {
      url: baseUrl() + options.path,
      method,
      header,
      dataType: 'json',
      timeout: config.requestTimeoutMs,
      success(res) {
        if (res.statusCode >= 200 && res.statusCode < 300) {
          resolve(res.data)
          return
        }
        const err = errorFromResponse(res)
        if (res.statusCode === 401 && auth) {
          clearSession()
          redirectToLogin()
        }
        reject(err)
      },
      fail(e) {
        const detail = e && e.errMsg ? e.errMsg : ''
        const timeout = /timeout/i.test(detail)
        reject(apiError(i18n.t(timeout ? 'api.timeout' : 'api.network'), 0, detail))
      }
    }
    if (options.data !== undefined) req.data = options.data
    wx.request(req)
  })
}

function query(params) {
  const parts = []
  Object.keys(params).forEach(k => {
    if (params[k] !== undefined && params[k] !== null && params[k] !== '') {
      parts.push(encodeURIComponent(k) + '=' + encodeURIComponent(String(params[k])))
    }
  })
  return parts.length ? '?' + parts.join('&') : ''
}

function enc(id) {
  return encodeURIComponent(id)
}

// wx.login → the one-time code (valid for five minutes, usable once).
function wxLoginCode() {
  return new Promise((resolve, reject) => {
    wx.login({
      success(res) {
        if (res && res.code) resolve(res.code)
        else reject(apiError(i18n.t('api.wechatNoCode'), 0, res && res.errMsg))
      },
      fail(e) {
        reject(apiError(i18n.t('api.wechatFailed'), 0, e && e.errMsg))
      }
    })
  })
}

function sessionFrom(body) {
  if (!body || typeof body.token !== 'string' || body.token === '') {
    throw apiError(i18n.t('api.badSession'), 200, '')
  }
  const user = body.username ? { username: body.username, role: body.role || 'user' } : null
  setSession(body.token, user)
  if (user) return Promise.resolve(user)
  // The answer carried only the token: ask who we are.
  return me().then(m => {
    const u = { username: m.username, role: m.role }
    wx.setStorageSync(USER_KEY, u)
    return u
  })
}

// POST /api/login → stores the token, resolves {username, role}.
function login(username, password) {
  return request({ method: 'POST', path: '/api/login', data: { username, password }, auth: false })
    .then(sessionFrom)
}

// wx.login, then POST /api/login/wechat with the code alone. The server exchanges it with
// code2Session, finds the account bound to the openid and answers our own JWT (the same
// answer as POST /api/login); the session_key never reaches the phone. A WeChat user bound
// to no account answers 403, telling the user to log in with a password and bind first.
function loginWithWechat() {
  return wxLoginCode()
    .then(code => request({ method: 'POST', path: '/api/login/wechat', data: { code }, auth: false }))
    .then(sessionFrom)
}

// The logged-in user binds their WeChat: wx.login, then POST /api/me/wechat with the code.
// Resolves {status, wechat_bound: true}. A WeChat user bound to another account answers 409.
function bindWechat() {
  return wxLoginCode()
    .then(code => request({ method: 'POST', path: '/api/me/wechat', data: { code } }))
}

// DELETE /api/me/wechat: WeChat no longer logs into this account. Resolves {status, wechat_bound: false}.
function unbindWechat() {
  return request({ method: 'DELETE', path: '/api/me/wechat' })
}

function me() {
  return request({ path: '/api/me' })
}

function listDevices() {
  return request({ path: '/api/devices' }).then(body => (body && body.devices) || [])
}

// GET /api/devices with paging (docs/api.md): params {limit, cursor, q, status, alarms,
// balance_below}; resolves {devices, total, nextCursor} (nextCursor null on the last page).
function listDevicesPage(params) {
  return request({ path: '/api/devices' + query(params || {}) }).then(body => ({
    devices: (body && body.devices) || [],
    total: body && typeof body.total === 'number' ? body.total : ((body && body.devices) || []).length,
    nextCursor: (body && body.next_cursor) || null
  }))
}

// GET /api/devices/summary: {total, online, offline, unknown, in_arrears, with_open_alarms, open_alarms}.
function deviceSummary() {
  return request({ path: '/api/devices/summary' })
}

function getDevice(deviceId) {
  return request({ path: '/api/devices/' + enc(deviceId) })
}

// GET /api/device/data/:id — params {from, to, limit, interval}; rows newest first.
function history(deviceId, params) {
  return request({ path: '/api/device/data/' + enc(deviceId) + query(params || {}) })
    .then(rows => (Array.isArray(rows) ? rows : []))
}

// GET /api/devices/:id/energy — params {period: day|month, from, to}; resolves
// {period, cost, buckets: [{date, energy_wh, cost, periods: [{label, price, energy_wh, cost}]}]},
// buckets oldest first.
function energy(deviceId, params) {
  return request({ path: '/api/devices/' + enc(deviceId) + '/energy' + query(params || {}) })
}

// GET /api/devices/:id/ledger — {balance, entries: [{kind, amount, balance_after, created_at}]},
// newest first.
function ledger(deviceId, limit) {
  return request({ path: '/api/devices/' + enc(deviceId) + '/ledger' + query({ limit }) })
}

// POST /api/device/recharge/:id with the amount as an exact decimal string ("50.25").
function recharge(deviceId, yuan, idempotencyKey) {
  return request({
    method: 'POST',
    path: '/api/device/recharge/' + enc(deviceId),
    data: { amount: yuan },
    header: { 'Idempotency-Key': idempotencyKey }
  })
}

// POST /api/devices/:id/payments: a WeChat Pay order for the amount ("50.00"); resolves to
// {out_trade_no, amount, expires_at, pay_params} (pay_params go to wx.requestPayment as they are).
function createPayment(deviceId, yuan) {
  return request({
    method: 'POST',
    path: '/api/devices/' + enc(deviceId) + '/payments',
    data: { amount: yuan }
  })
}

// GET /api/devices/:id/payments/:out_trade_no → {state: created|paid|closed|failed, ...}.
function getPayment(deviceId, outTradeNo) {
  return request({ path: '/api/devices/' + enc(deviceId) + '/payments/' + enc(outTradeNo) })
}

// GET /api/alarms — params {state, severity, device, site, since, until, limit, before};
// resolves {alarms: [...] newest first, nextBefore, total} (total: how many pass the filters
// on every page together; null from a server that does not say).
function listAlarms(params) {
  return request({ path: '/api/alarms' + query(params || {}) }).then(body => ({
    alarms: (body && body.alarms) || [],
    nextBefore: body ? body.next_before : null,
    total: body && typeof body.total === 'number' ? body.total : null
  }))
}

// GET /api/alarms/:id → the alarm.
function getAlarm(id) {
  return request({ path: '/api/alarms/' + enc(String(id)) }).then(body => body.alarm)
}

// POST /api/alarms/:id/ack with an optional note (operators and admins) → the alarm.
function ackAlarm(id, note) {
  return request({ method: 'POST', path: '/api/alarms/' + enc(String(id)) + '/ack', data: note ? { note } : {} })
    .then(body => body.alarm)
}

// --- the live alarm stream ---

// The base library that first has wx.request's enableChunked and RequestTask.onChunkReceived.
const CHUNKED_SINCE = '2.20.1'
const STREAM_RETRY_FIRST_MS = 1000
const STREAM_RETRY_MAX_MS = 30000
const RETRY_AFTER_MAX_MS = 300000 // a Retry-After longer than 5 minutes is read as 5 minutes

// a >= b for dotted versions ("2.20.1"); a missing or odd version is not.
function versionAtLeast(a, b) {
  if (typeof a !== 'string' || !/^\d+(\.\d+)*$/.test(a)) return false
  const x = a.split('.').map(Number)
  const y = b.split('.').map(Number)
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] || 0) - (y[i] || 0)
    if (d) return d > 0
  }
  return true
}

// Whether this base library streams a wx.request's answer (onChunkReceived).
function chunkedSupported() {
  try {
    const info = typeof wx.getAppBaseInfo === 'function' ? wx.getAppBaseInfo() : wx.getSystemInfoSync()
    return versionAtLeast(info && info.SDKVersion, CHUNKED_SINCE)
  } catch (e) {
    return false
  }
}

// A response header by name, whatever its case.
function headerValue(header, name) {
  if (!header || typeof header !== 'object') return ''
  const want = name.toLowerCase()
  const key = Object.keys(header).find(k => k.toLowerCase() === want)
  return key === undefined ? '' : String(header[key])
}

// Retry-After in ms: delay-seconds, or an HTTP date; 0 when absent or unreadable.
function retryAfterMs(header) {
  const v = headerValue(header, 'Retry-After').trim()
  let ms = 0
  if (/^\d{1,9}$/.test(v)) ms = Number(v) * 1000
  else if (v) ms = Math.max(0, (Date.parse(v) || 0) - Date.now())
  return Math.min(ms, RETRY_AFTER_MAX_MS)
}

// An alarm of the stream as GET /api/alarms shows it, or null for anything else.
function alarmOf(data) {
  let a = null
  try {
    a = JSON.parse(data)
  } catch (e) {
    return null
  }
  const ok = a && typeof a === 'object' && Number.isInteger(a.id) && a.id > 0 &&
    typeof a.state === 'string' && typeof a.device_id === 'string'
  return ok ? a : null
}

// Follows GET /api/alarms/stream: each `alarm` event goes to handlers.onAlarm(alarm).
// handlers.onOpen({reconnected}) is called each time the stream opens; reconnected is true
// after a stream that failed or ended, when the caller should read the lists again (what
// changed meanwhile was not streamed). A 401 ends the session as the other calls do; a 503
// (honouring Retry-After), another 5xx, a network failure, a timeout or the answer ending
// reconnects after 1 s, doubling up to 30 s (back to 1 s once a stream opens); any other
// status (a server without the stream: 404) stops. Without a token nothing is opened (the
// page's own calls send the person to log in).
//
// Returns {live, close()}: live is false on a base library older than CHUNKED_SINCE (or a
// RequestTask without onChunkReceived), where the caller keeps to reading on show and on
// pull-down. close() aborts the request and any pending reconnect; it may be called twice.
function openAlarmStream(handlers) {
  const h = handlers || {}
  const stream = { live: chunkedSupported(), close }
  let closed = false
  let task = null
  let timer = null
  let attempts = 0
  let delayMs = STREAM_RETRY_FIRST_MS

  function close() {
    closed = true
    if (timer !== null) clearTimeout(timer)
    timer = null
    const t = task
    task = null
    if (t) t.abort()
  }

  function retry(header) {
    const wait = Math.max(delayMs, retryAfterMs(header))
    delayMs = Math.min(delayMs * 2, STREAM_RETRY_MAX_MS)
    timer = setTimeout(() => {
      timer = null
      connect()
    }, wait)
  }

  function connect() {
    if (closed) return
    const token = getToken()
    if (!token) {
      close()
      return
    }
    attempts++
    const reconnected = attempts > 1
    const parser = sse.createParser()
    let opened = false
    let ended = false
    let t = null

    const open = () => {
      if (opened) return
      opened = true
      delayMs = STREAM_RETRY_FIRST_MS
      if (h.onOpen) h.onOpen({ reconnected })
    }
    const finish = (statusCode, header) => {
      if (ended || closed || task !== t) return
      ended = true
      task = null
      if (statusCode === 401) {
        close()
        clearSession()
        redirectToLogin()
      } else if (statusCode === 0 || statusCode === 200 || statusCode >= 500) {
        retry(header)
      } else {
        close()
      }
    }

    t = wx.request({
      url: baseUrl() + '/api/alarms/stream',
      method: 'GET',
      header: { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' },
      enableChunked: true,
      responseType: 'arraybuffer',
      timeout: config.alarmStreamTimeoutMs,
      success(res) { finish(res.statusCode, res.header) },
      fail() { finish(0, null) }
    })
    if (!t || typeof t.onChunkReceived !== 'function') {
      stream.live = false
      if (t && typeof t.abort === 'function') t.abort()
      close()
      return
    }
    task = t
    // Events are read from the stream's answer only: the headers say which answer this is
    // (DevTools leaves statusCode out, hence the content type). Without onHeadersReceived
    // every answer is read, and an error's JSON body holds no event.
    let reading = typeof t.onHeadersReceived !== 'function'
    if (!reading) {
      t.onHeadersReceived(res => {
        const status = res && res.statusCode
        reading = (status === undefined || status === 200) &&
          /^text\/event-stream/i.test(headerValue(res && res.header, 'Content-Type'))
        if (reading && task === t) open()
      })
    }
    t.onChunkReceived(res => {
      if (!reading || task !== t || !res || !res.data) return
      parser.push(res.data).forEach(ev => {
        open()
        if (task !== t || ev.event !== 'alarm') return
        const a = alarmOf(ev.data)
        if (a && h.onAlarm) h.onAlarm(a)
      })
    })
  }

  if (stream.live) connect()
  return stream
}

// wx.requestPayment as a promise; rejects with {cancelled, errMsg}.
function requestPayment(params) {
  return new Promise((resolve, reject) => {
    wx.requestPayment(Object.assign({}, params, {
      success: res => resolve(res),
      fail: res => {
        const errMsg = (res && res.errMsg) || 'requestPayment:fail'
        reject({ cancelled: /cancel/.test(errMsg), errMsg })
      }
    }))
  })
}

// A fresh Idempotency-Key (UUID version 4 layout; printable ASCII as the API asks).
function newIdempotencyKey() {
  const hex = '0123456789abcdef'
  let s = ''
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) s += '-'
    else if (i === 14) s += '4'
    else if (i === 19) s += hex[8 + Math.floor(Math.random() * 4)]
    else s += hex[Math.floor(Math.random() * 16)]
  }
  return s
}

module.exports = {
  apiError,
  request,
  getToken,
  getUser,
  setSession,
  clearSession,
  isStaff,
  redirectToLogin,
  login,
  loginWithWechat,
  bindWechat,
  unbindWechat,
  me,
  listDevices,
  listDevicesPage,
  deviceSummary,
  getDevice,
  history,
  energy,
  ledger,
  recharge,
  createPayment,
  getPayment,
  requestPayment,
  listAlarms,
  getAlarm,
  ackAlarm,
  openAlarmStream,
  newIdempotencyKey,
  LOGIN_PAGE
}
