// The live tests' wx.request (test/helpers/node-request.js) keeps WeChat's enableChunked
// contract: headers first, each piece of the body to the chunk listeners as an ArrayBuffer as
// it arrives, success when the answer ends, abort() failing once with "request:fail abort".
const http = require('http')
const { Buffer } = require('buffer')
const { createRequest } = require('./helpers/node-request.js')

let server
let base
let next // resolves when the test lets the server write its next piece
let closed

beforeAll(done => {
  server = http.createServer((req, res) => {
    closed = new Promise(resolve => res.on('close', resolve))
    if (req.url === '/error') {
      res.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '30' })
      res.end('{"status":"error","message":"busy"}')
      return
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' })
    const text = Buffer.from('data: 北区\n\n', 'utf8')
    res.write(text.subarray(0, 8)) // "data: " and the first byte of 北
    next = () => new Promise(resolve => {
      res.write(text.subarray(8), () => {
        if (req.url === '/end') res.end(resolve)
        else resolve()
      })
    })
  })
  server.listen(0, '127.0.0.1', () => {
    base = 'http://127.0.0.1:' + server.address().port
    done()
  })
})

afterAll(done => { server.close(done) })

function waitFor(check) {
  return new Promise((resolve, reject) => {
    const end = Date.now() + 5000
    const poll = () => (check() ? resolve() : Date.now() > end ? reject(new Error('timed out')) : setTimeout(poll, 5))
    poll()
  })
}

test('chunks arrive as ArrayBuffers before the answer ends; success comes at its end', async () => {
  const request = createRequest()
  const seen = []
  const task = request({
    url: base + '/end',
    enableChunked: true,
    responseType: 'arraybuffer',
    success: res => seen.push(['success', res.statusCode, res.header['content-type']]),
    fail: res => seen.push(['fail', res.errMsg]),
    complete: () => seen.push(['complete'])
  })
  task.onHeadersReceived(res => seen.push(['headers', res.statusCode, res.header['content-type']]))
  task.onChunkReceived(res => seen.push(['chunk', Object.prototype.toString.call(res.data), Array.from(new Uint8Array(res.data))]))
  await waitFor(() => seen.length >= 2)
  expect(seen).toEqual([
    ['headers', 200, 'text/event-stream'],
    ['chunk', '[object ArrayBuffer]', Array.from(Buffer.from('data: 北区', 'utf8').subarray(0, 8))]
  ])
  expect(request.pending()).toHaveLength(1)
  await next()
  await waitFor(() => seen.some(s => s[0] === 'complete'))
  expect(seen.slice(2)).toEqual([
    ['chunk', '[object ArrayBuffer]', Array.from(Buffer.from('data: 北区\n\n', 'utf8').subarray(8))],
    ['success', 200, 'text/event-stream'],
    ['complete']
  ])
  expect(request.log[0]).toMatchObject({ path: '/end', statusCode: 200, chunks: 2, aborted: false, done: true })
})

test('chunkBytes cuts what arrives into pieces of that size, each its own ArrayBuffer', async () => {
  const request = createRequest({ chunkBytes: 3 })
  const pieces = []
  const task = request({ url: base + '/end', enableChunked: true, complete: () => pieces.push('end') })
  task.onChunkReceived(res => pieces.push(res.data.byteLength))
  await waitFor(() => pieces.length >= 3)
  await next()
  await waitFor(() => pieces.includes('end'))
  expect(pieces).toEqual([3, 3, 2, 3, 3, 'end']) // 8 bytes, then 6
})

test('abort fails once with "request:fail abort", no chunk after it, and the connection closes', async () => {
  const request = createRequest()
  const seen = []
  const task = request({
    url: base + '/open',
    enableChunked: true,
    success: () => seen.push('success'),
    fail: res => seen.push(res.errMsg),
    complete: () => seen.push('complete')
  })
  task.onChunkReceived(() => seen.push('chunk'))
  await waitFor(() => seen.length === 1)
  task.abort()
  task.abort()
  expect(seen).toEqual(['chunk', 'request:fail abort', 'complete'])
  await closed
  expect(request.log[0]).toMatchObject({ aborted: true, done: true })
  expect(request.pending()).toEqual([])
})

test('offChunkReceived removes a listener; an error answer still ends in success with its status', async () => {
  const request = createRequest()
  let chunks = 0
  let done = null
  const task = request({ url: base + '/error', enableChunked: true, success: res => { done = res } })
  const listener = () => { chunks++ }
  task.onChunkReceived(listener)
  task.offChunkReceived(listener)
  await waitFor(() => done)
  expect(chunks).toBe(0)
  expect(done.statusCode).toBe(503)
  expect(done.header['retry-after']).toBe('30')
})
