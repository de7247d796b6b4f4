// wx.request over node's http module, so the pages' own code can talk to a real
// meter-server in tests. It follows wx.request's contract: an object `data` is sent as JSON
// (or as a query string on GET), a JSON answer is parsed into res.data, and success is called
// for every HTTP answer whatever its status; fail only when no answer came back.
//
// loseNextResponse() makes the next request reach the server but report a timeout to the
// caller, as a dropped mobile connection would after the server has acted.

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
    let done = false
    const finish = (kind, res) => {
      if (done) return
      done = true
      if (kind === 'success' && o.success) o.success(res)
      if (kind === 'fail' && o.fail) o.fail(res)
      if (o.complete) o.complete(res)
    }
    const entry = { method, path: url.pathname + url.search, header, data: o.data, statusCode: 0 }
    log.push(entry)

    const req = http.request({
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      method,
      headers: header,
      agent: false // one connection per request, closed afterwards: nothing lingers
    }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => {
        entry.statusCode = res.statusCode
        if (dropThis) {
          finish('fail', { errMsg: 'request:fail timeout' })
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
    return { abort() { req.destroy(new Error('abort')) } }
  }

  request.loseNextResponse = () => { lose++ }
  request.log = log
  return request
}

module.exports = { createRequest }
