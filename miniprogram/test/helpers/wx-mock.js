// The wx APIs the pages use, for unit tests: in-memory storage, recorded navigation,
// toasts and modals, wx.login, the phone's language, and a wx.request answered from a table
// of routes.
//
// options.language is what the phone reports as its language (WeChat's form: 'zh_CN', 'en',
// 'en_US', ...); 'zh_CN' unless told, so the pages speak Chinese as before.
//
// routes: {"POST /api/login": answer, ...} where answer is {statusCode, data, header}, a
// function (req) → answer, or {fail: "errMsg"} for a network failure. req is
// {method, url, path, query, data, header}. Unrouted requests answer 404 as the server does.
//
// wx.request returns a RequestTask as WeChat's does: abort(), and with enableChunked
// on/offHeadersReceived and on/offChunkReceived, the body handed over as ArrayBuffers.
// {stream: true} as an answer holds the request open (GET /api/alarms/stream answers so unless
// told otherwise): env.streams gets {req, send(text), sendBytes(bytes), end(), aborted}; a
// send delivers one chunk, end() completes the request, abort() fails it with
// "request:fail abort".

// miniprogram-simulate defines global.wx (with its own stubs, e.g. getWindowInfo) on load.
require('miniprogram-simulate')
const { Buffer } = require('buffer')
const config = require('../../config.js')
const i18n = require('../../utils/i18n.js')

function parseQuery(qs) {
  const out = {}
  if (!qs) return out
  qs.split('&').forEach(part => {
    if (!part) return
    const i = part.indexOf('=')
    const k = decodeURIComponent(i < 0 ? part : part.slice(0, i))
    out[k] = i < 0 ? '' : decodeURIComponent(part.slice(i + 1))
  })
  return out
}

// The RequestTask of one wx.request call, and how the mock answers through it.
function chunkedTask(o) {
  const heads = []
  const chunks = []
  const remove = (list, fn) => { if (!fn) list.length = 0; else if (list.indexOf(fn) >= 0) list.splice(list.indexOf(fn), 1) }
  let done = false
  const task = {
    aborted: false,
    api: {
      abort() {
        if (done) return
        task.aborted = true
        task.fail('request:fail abort')
      },
      onHeadersReceived: fn => { heads.push(fn) },
      offHeadersReceived: fn => remove(heads, fn)
    },
    headers(res) { if (!done) heads.slice().forEach(fn => fn(res)) },
    chunk(bytes) { // each listener gets an ArrayBuffer of exactly these bytes
      if (done || !o.enableChunked) return
      const data = Uint8Array.from(bytes).buffer
      chunks.slice().forEach(fn => fn({ data }))
    },
    succeed(res) {
      if (done) return
      done = true
      if (o.success) o.success(res)
      if (o.complete) o.complete(res)
    },
    fail(errMsg) {
      if (done) return
      done = true
      if (o.fail) o.fail({ errMsg })
      if (o.complete) o.complete({ errMsg })
    }
  }
  if (o.enableChunked) {
    task.api.onChunkReceived = fn => { chunks.push(fn) }
    task.api.offChunkReceived = fn => remove(chunks, fn)
  }
  return task
}

function installWx(options) {
  const opts = options || {}
  const routes = Object.assign({ 'GET /api/alarms/stream': { stream: true } }, opts.routes || {})
  const storage = new Map()
  const env = {
    routes,
    storage,
    requests: [],
    navigations: [],
    toasts: [],
    modals: [],
    modalAnswer: true,
    streams: [],           // requests held open by a {stream: true} answer
    payments: [],          // what wx.requestPayment was given
    paymentAnswer: 'ok',   // 'ok', 'cancel', or another errMsg tail ('fail ...')
    onPayment: null,       // called with the params before answering (to mark an order paid)
    loginCode: opts.loginCode === undefined ? 'wx-login-code-0123' : opts.loginCode,
    language: opts.language === undefined ? 'zh_CN' : opts.language,
    tabBar: ['', '', '']     // the texts wx.setTabBarItem set, by index
  }

  const nav = kind => jest.fn(o => {
    env.navigations.push({ kind, url: o && o.url })
    if (o && o.success) o.success({ errMsg: kind + ':ok' })
    if (o && o.complete) o.complete({ errMsg: kind + ':ok' })
  })

  const api = {
    getStorageSync: jest.fn(k => (storage.has(k) ? storage.get(k) : '')),
    setStorageSync: jest.fn((k, v) => { storage.set(k, v) }),
    removeStorageSync: jest.fn(k => { storage.delete(k) }),
    navigateTo: nav('navigateTo'),
    redirectTo: nav('redirectTo'),
    reLaunch: nav('reLaunch'),
    switchTab: nav('switchTab'),
    navigateBack: nav('navigateBack'),
    showToast: jest.fn(o => { env.toasts.push(o.title) }),
    showLoading: jest.fn(),
    hideLoading: jest.fn(),
    showModal: jest.fn(o => {
      env.modals.push(o)
      Promise.resolve().then(() => {
        const res = { confirm: !!env.modalAnswer, cancel: !env.modalAnswer }
        if (o.success) o.success(res)
        if (o.complete) o.complete(res)
      })
    }),
    requestPayment: jest.fn(o => {
      env.payments.push(o)
      Promise.resolve().then(() => {
        if (env.onPayment) env.onPayment(o)
        const answer = env.paymentAnswer
        const res = { errMsg: answer === 'ok' ? 'requestPayment:ok' : 'requestPayment:' + (answer === 'cancel' ? 'fail cancel' : answer) }
        if (answer === 'ok') { if (o.success) o.success(res) } else if (o.fail) o.fail(res)
        if (o.complete) o.complete(res)
      })
    }),
    stopPullDownRefresh: jest.fn(),
    setNavigationBarTitle: jest.fn(),
    setTabBarItem: jest.fn(o => { env.tabBar[o.index] = o.text }),
    getSystemInfoSync: jest.fn(() => ({ language: env.language, pixelRatio: 2 })),
    getAppBaseInfo: jest.fn(() => ({ language: env.language, SDKVersion: '3.0.0' })),
    setTabBarBadge: jest.fn(),
    removeTabBarBadge: jest.fn(),
    login: jest.fn(o => {
      Promise.resolve().then(() => {
        if (env.loginCode) o.success({ code: env.loginCode, errMsg: 'login:ok' })
        else o.fail({ errMsg: 'login:fail' })
      })
    }),
    request: jest.fn(o => {
      const base = config.apiBaseUrl
      const rel = o.url.startsWith(base) ? o.url.slice(base.length) : o.url
      const q = rel.indexOf('?')
      const req = {
        method: (o.method || 'GET').toUpperCase(),
        url: o.url,
        path: q < 0 ? rel : rel.slice(0, q),
        query: parseQuery(q < 0 ? '' : rel.slice(q + 1)),
        data: o.data,
        header: Object.assign({}, o.header || {})
      }
      env.requests.push(req)
      const task = chunkedTask(o)
      Promise.resolve().then(() => {
        if (task.aborted) return
        let answer = routes[req.method + ' ' + req.path]
        if (typeof answer === 'function') answer = answer(req)
        if (!answer) answer = { statusCode: 404, data: { status: 'error', message: 'not found' } }
        if (answer.fail) {
          task.fail('request:fail ' + answer.fail)
          return
        }
        const header = Object.assign({ 'Content-Type': answer.stream ? 'text/event-stream' : 'application/json' }, answer.header || {})
        const statusCode = answer.statusCode || 200
        task.headers({ statusCode, header })
        if (answer.stream) {
          env.streams.push({
            req,
            get aborted() { return task.aborted },
            send: text => task.chunk(Buffer.from(text, 'utf8')),
            sendBytes: bytes => task.chunk(bytes),
            end: () => task.succeed({ statusCode, header, data: new ArrayBuffer(0), errMsg: 'request:ok' })
          })
          return
        }
        if (o.enableChunked && answer.data !== undefined) {
          task.chunk(Buffer.from(typeof answer.data === 'string' ? answer.data : JSON.stringify(answer.data), 'utf8'))
        }
        task.succeed({ statusCode, data: o.enableChunked ? new ArrayBuffer(0) : answer.data, header, errMsg: 'request:ok' })
      })
      return task.api
    })
  }
  Object.assign(global.wx, api)
  env.wx = global.wx
  // The pages' language is resolved once; a new phone (and storage) resolves it again.
  i18n.refresh()
  return env
}

// A logged-in session, as utils/api.js stores it.
function loginAs(env, username, role) {
  env.storage.set('smartmeter.token', 'test-token-' + username)
  env.storage.set('smartmeter.user', { username, role })
}

function ok(data) {
  return { statusCode: 200, data }
}

function error(statusCode, message, header) {
  return { statusCode, data: { status: 'error', message }, header }
}

// Lets pending promise callbacks and zero-delay timers run.
function flush() {
  return new Promise(resolve => setTimeout(resolve, 0))
}

// Polls until check() is true (uCharts draws on a 17 ms timer, even without animation).
async function waitFor(check, timeoutMs) {
  const end = Date.now() + (timeoutMs || 2000)
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting for ' + check)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

module.exports = { installWx, loginAs, ok, error, flush, waitFor }
