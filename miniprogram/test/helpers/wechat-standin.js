// A stand-in for WeChat's code2Session API (GET /sns/jscode2session) on a free loopback
// port, for the live test: meter-server is started with --wechat-api-base pointing here.
// issue(openid) hands out a fresh one-time code for that WeChat user (what wx.login would
// return on that user's phone); any other code answers errcode 40029 as WeChat does, and a
// wrong appid or secret 40013 / 40125. Every session_key answered is kept, so the test can
// check none of them reached the mini program or the server's log.

const crypto = require('crypto')
const http = require('http')
const { URL } = require('url')

function startWechatStandin(appid, secret) {
  const codes = new Map() // code -> openid, deleted once used
  const sessionKeys = []
  const requests = []
  let next = 0

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1')
    const q = Object.fromEntries(url.searchParams.entries())
    requests.push(q)
    const answer = obj => {
      const body = JSON.stringify(obj)
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) })
      res.end(body)
    }
    if (req.method !== 'GET' || url.pathname !== '/sns/jscode2session') {
      res.writeHead(404)
      res.end()
      return
    }
    if (q.appid !== appid) return answer({ errcode: 40013, errmsg: 'invalid appid' })
    if (q.secret !== secret) return answer({ errcode: 40125, errmsg: 'invalid appsecret' })
    if (q.grant_type !== 'authorization_code') return answer({ errcode: 40002, errmsg: 'invalid grant_type' })
    const openid = codes.get(q.js_code)
    if (!openid) return answer({ errcode: 40029, errmsg: 'invalid code' })
    codes.delete(q.js_code)
    const key = crypto.randomBytes(16).toString('base64')
    sessionKeys.push(key)
    return answer({ openid, session_key: key })
  })

  return new Promise((resolve, reject) => {
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      resolve({
        base: 'http://127.0.0.1:' + server.address().port,
        issue(openid) {
          next++
          const code = 'code' + next + crypto.randomBytes(8).toString('hex')
          codes.set(code, openid)
          return code
        },
        sessionKeys,
        requests,
        stop: () => new Promise(done => {
          server.close(() => done())
          server.closeAllConnections()
        })
      })
    })
  })
}

module.exports = { startWechatStandin }
