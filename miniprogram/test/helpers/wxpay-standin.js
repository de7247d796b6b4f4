// The WeChat Pay stand-in (tests/lib/wxpay_standin.py, python3 with python3-cryptography)
// as a child process, for the live payment test: it makes its keys in a folder of its own,
// prints its port and the wechatpay_* options that point meter-server at it, and pays an
// order (then posts WeChat Pay's signed notification to the order's notify_url) on
// POST /_standin/pay {"out_trade_no"}.

const { spawn, execFileSync } = require('child_process')
const fs = require('fs')
const os = require('os')
const path = require('path')
const http = require('http')

const SCRIPT = path.join(__dirname, '..', '..', '..', 'tests', 'lib', 'wxpay_standin.py')
// Debian's python3, whose python3-cryptography package the stand-in needs (another python3
// first on PATH, a virtualenv say, may lack it).
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3'

// Whether python3 with the cryptography package is there to run the stand-in.
function wxpayStandinAvailable() {
  try {
    execFileSync(PYTHON, ['-c', 'import cryptography'], { stdio: 'ignore', timeout: 20000 })
    return fs.existsSync(SCRIPT)
  } catch (e) {
    return false
  }
}

function startWxpayStandin() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniprogram-wxpay-'))
  const child = spawn(PYTHON, [SCRIPT, dir], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('wxpay stand-in did not start: ' + err)) }, 30000)
    child.stderr.on('data', c => { err += c })
    child.on('exit', code => { clearTimeout(timer); reject(new Error('wxpay stand-in exited ' + code + ': ' + err)) })
    child.stdout.on('data', c => {
      out += c
      const lines = out.split('\n')
      if (!lines.some(l => l.startsWith('wechatpay_base_url = '))) return
      clearTimeout(timer)
      child.removeAllListeners('exit')
      const options = {}
      let port = 0
      lines.forEach(l => {
        const m = /^(\w+) = (.*)$/.exec(l)
        if (m) options[m[1]] = m[2]
        const p = /^port (\d+)$/.exec(l)
        if (p) port = Number(p[1])
      })
      const stop = () => new Promise(done => {
        child.once('exit', () => { fs.rmSync(dir, { recursive: true, force: true }); done() })
        child.stdin.end()
        setTimeout(() => child.kill('SIGKILL'), 5000)
      })
      // meter-server flags for these options, with notifyUrl in place of the stand-in's own.
      const args = notifyUrl => Object.keys(options).reduce((a, k) => a.concat([
        '--' + k.replace(/_/g, '-'), k === 'wechatpay_notify_url' ? notifyUrl : options[k]]), [])
      // Pays the order at the stand-in, which notifies the server; resolves its answer's status.
      const pay = outTradeNo => new Promise((done, fail) => {
        const body = Buffer.from(JSON.stringify({ out_trade_no: outTradeNo, tamper: null }))
        const req = http.request({ hostname: '127.0.0.1', port, path: '/_standin/pay', method: 'POST', agent: false,
          headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, res => {
          const chunks = []
          res.on('data', x => chunks.push(x))
          res.on('end', () => {
            try { done(JSON.parse(Buffer.concat(chunks).toString('utf8')).notify_status) } catch (e) { fail(e) }
          })
        })
        req.on('error', fail)
        req.end(body)
      })
      resolve({ appid: options.wechatpay_appid, args, pay, stop })
    })
  })
}

module.exports = { startWxpayStandin, wxpayStandinAvailable }
