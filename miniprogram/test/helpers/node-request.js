// wx.request over node's http module, so the pages' own code can talk to a real
// meter-server in tests. It follows wx.request's contract: an object `data` is sent as JSON
// (or as a query string on GET), a JSON answer is parsed into res.data, and success is called
// for every HTTP answer whatever its status; fail only when no answer came back.
//
// It returns a RequestTask as WeChat's does: abort() (fail with "request:fail abort", once),
// onHeadersReceived/offHeadersReceived ({header, statusCode, cookies} as soon as the status
// line and headers are in), and onChunkReceived/offChunkReceived. With enableChunked the body
// goes to the chunk listeners as it arrives, each piece as an ArrayBuffer of its own, and
// success/complete come when the answer ends (res.data then holds nothing: the body went to
// the listeners); a connection cut mid-answer fails.
//
// options: {timeout, chunkBytes}. chunkBytes cuts what arrives into pieces of at most that
// many bytes before the listeners get it, as a slow mobile link may (a character of UTF-8 can
// then be cut in two).
//
// loseNextResponse() makes the next request reach the server but report a timeout to the
// caller, as a dropped mobile connection would after the server has acted. log holds one entry
// per request: {method, path, header, data, statusCode, response, chunks, aborted, done}.

const http = require('http')
const { URL } = require('url')
const { Buffer } = require('buffer')

function createRequest(opts) {
  const options = opts || {}
  let lose = 0
  const log = []

  function request(o) {
    const method = (o.method || 'GET').toUpperCase()
    const url = new URL(o.url)
    const header = Object.assign({}, o.header || {})
    let body = null
    if (o.data !== undefined && o.data !== null) {
      if (method === 'GET') {
        if (typeof o.data === 'object') {
          Object.keys(o.data).forEach(k => url.searchParams.append(k, String(o.data[k])))
        }
      } else {
        body = Buffer.from(typeof o.data === 'string' ? o.data : JSON.stringify(o.data), 'utf8')
        header['Content-Length'] = String(body.length)
      }
    }
    const dropThis = lose > 0
    if (dropThis) lose--
    const chunked = !!o.enableChunked
    const heads = []
    const chunkListeners = []
    const off = (list, fn) => {
      if (!fn) list.length = 0
      else if (list.indexOf(fn) >= 0) list.splice(list.indexOf(fn), 1)
    }
    const entry = { method, path: url.pathname + url.search, header, data: o.data, statusCode: 0, chunks: 0, aborted: false, done: false }
    log.push(entry)
    const finish = (kind, res) => {
      if (entry.done) return
      entry.done = true
      if (kind === 'success' && o.success) o.success(res)
      if (kind === 'fail' && o.fail) o.fail(res)
      if (o.complete) o.complete(res)
    }
    // Each piece as an ArrayBuffer holding exactly its bytes (a Buffer may share a larger one).
    const deliver = c => {
      const step = options.chunkBytes > 0 ? options.chunkBytes : c.length
      for (let at = 0; at < c.length && !entry.done; at += step) {
        const piece = c.subarray(at, Math.min(at + step, c.length))
        const data = piece.buffer.slice(piece.byteOffset, piece.byteOffset + piece.length)
        entry.chunks++
        chunkListeners.slice().forEach(fn => { if (!entry.done) fn({ data }) })
      }
    }

    const req = http.request({
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method,
      headers: header,
      agent: false // one connection per request, closed afterwards: nothing lingers
    }, res => {
      entry.statusCode = res.statusCode
      if (!dropThis) heads.slice().forEach(fn => fn({ header: res.headers, statusCode: res.statusCode, cookies: [] }))
      const chunks = []
      res.on('data', c => {
        if (chunked && !dropThis) deliver(c)
        else chunks.push(c)
      })
      res.on('aborted', () => finish('fail', { errMsg: 'request:fail connection closed' }))
      res.on('error', e => finish('fail', { errMsg: 'request:fail ' + e.message }))
      res.on('end', () => {
        if (dropThis) {
          finish('fail', { errMsg: 'request:fail timeout' })
          return
        }
        if (chunked) {
          finish('success', { statusCode: res.statusCode, data: new ArrayBuffer(0), header: res.headers, errMsg: 'request:ok' })
          return
        }
        const text = Buffer.concat(chunks).toString('utf8')
        let data = text
        if ((o.dataType || 'json') === 'json') {
          try { data = JSON.parse(text) } catch (e) { data = text }
        }
        entry.response = data
        finish('success', { statusCode: res.statusCode, data, header: res.headers, errMsg: 'request:ok' })
      })
    })
    req.setTimeout(o.timeout || options.timeout || 10000, () => {
      req.destroy(new Error('timeout'))
    })
    req.on('error', e => finish('fail', { errMsg: 'request:fail ' + e.message }))
    if (body) req.write(body)
    req.end()
    return {
      abort() {
        if (entry.done) return
        entry.aborted = true
        finish('fail', { errMsg: 'request:fail abort' })
        req.destroy()
      },
      onHeadersReceived: fn => { heads.push(fn) },
      offHeadersReceived: fn => off(heads, fn),
      onChunkReceived: fn => { chunkListeners.push(fn) },
      offChunkReceived: fn => off(chunkListeners, fn)
    }
  }

  request.loseNextResponse = () => { lose++ }
  request.log = log
  // Requests that have neither succeeded nor failed yet (an open stream is one).
  request.pending = () => log.filter(e => !e.done)
  return request
}

module.exports = { createRequest }
