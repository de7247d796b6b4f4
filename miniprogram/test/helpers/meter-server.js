// Starts a real meter-server for the live test: a temporary SQLite database, accounts and
// devices made with the server's own command line, a fresh 48-byte JWT secret, a free
// loopback port, and an MQTT URL nobody answers (the API works without a broker).

const { execFileSync, spawn } = require('child_process')
const crypto = require('crypto')
const fs = require('fs')
const net = require('net')
const os = require('os')
const path = require('path')
const http = require('http')

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const port = srv.address().port
      srv.close(() => resolve(port))
    })
  })
}

function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => resolve({ statusCode: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }))
    })
    req.setTimeout(2000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
  })
}

function post(url, body, headers) {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body))
    const u = new URL(url)
    const req = http.request({
      hostname: u.hostname, port: u.port, path: u.pathname + u.search, method: 'POST', agent: false,
      headers: Object.assign({ 'Content-Type': 'application/json', 'Content-Length': data.length }, headers || {})
    }, res => {
      const chunks = []
      res.on('data', c => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        let json = null
        try { json = JSON.parse(text) } catch (e) { json = null }
        resolve({ statusCode: res.statusCode, body: json, text })
      })
    })
    req.setTimeout(5000, () => req.destroy(new Error('timeout')))
    req.on('error', reject)
    req.end(data)
  })
}

// setup: {users: [{name, role, password}], devices: [{id, owner}], args: [extra flags] or
// port => [extra flags] (for flags that name the server's own address).
// Resolves {base, secrets: {deviceId: secret}, stop(), output()}.
async function startMeterServer(binary, setup) {
  if (!fs.existsSync(binary)) throw new Error('METER_SERVER does not exist: ' + binary)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'miniprogram-live-'))
  const db = 'sqlite:' + path.join(dir, 'm.db')
  const run = (args, input) => execFileSync(binary, args, { input: input || '', encoding: 'utf8', timeout: 30000, stdio: 'pipe' })

  run(['migrate', '--db', db])
  setup.users.forEach(u => run(['user', 'add', u.name, '--role', u.role, '--db', db], u.password + '\n'))
  const secrets = {}
  const devices = setup.devices || []
  devices.forEach(d => {
    secrets[d.id] = run(['device', 'add', d.id, '--owner', d.owner, '--db', db]).trim()
  })
  const secretFile = path.join(dir, 'jwt.secret')
  fs.writeFileSync(secretFile, crypto.randomBytes(48), { mode: 0o600 })

  let child = null
  let output = ''
  let base = ''
  for (let attempt = 0; attempt < 3 && !base; attempt++) {
    const port = await freePort()
    output = ''
    child = spawn(binary, [
      '--db', db, '--listen', '127.0.0.1:' + port, '--jwt-secret-file', secretFile,
      '--mqtt', 'tcp://127.0.0.1:1'
    ].concat(typeof setup.args === 'function' ? setup.args(port) : (setup.args || [])), { stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.on('data', c => { output += c })
    child.stderr.on('data', c => { output += c })
    let exited = false
    child.on('exit', () => { exited = true })
    const deadline = Date.now() + 10000
    while (!exited && Date.now() < deadline) {
      try {
        const res = await get('http://127.0.0.1:' + port + '/api/health')
        if (res.statusCode === 200) {
          base = 'http://127.0.0.1:' + port
          break
        }
      } catch (e) {
        // not listening yet
      }
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    if (!base && !exited) child.kill('SIGKILL')
  }
  if (!base) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw new Error('meter-server did not start:\n' + output)
  }

  const server = child
  const stop = () => new Promise(resolve => {
    const cleanup = () => {
      fs.rmSync(dir, { recursive: true, force: true })
      resolve()
    }
    if (server.exitCode !== null || server.signalCode !== null) {
      cleanup()
      return
    }
    const timer = setTimeout(() => server.kill('SIGKILL'), 5000)
    server.once('exit', () => {
      clearTimeout(timer)
      cleanup()
    })
    server.kill('SIGTERM')
  })
  // Should the test process die without afterAll, do not leave the server behind.
  process.once('exit', () => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL')
  })

  return { base, secrets, stop, output: () => output, get: p => get(base + p), post: (p, b, h) => post(base + p, b, h) }
}

module.exports = { startMeterServer }
