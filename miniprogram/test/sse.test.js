// utils/sse.js: server-sent events read from bytes that arrive in pieces (wx.request's
// onChunkReceived), with its own UTF-8 decoding.
const { createParser, decodeUtf8 } = require('../utils/sse.js')

const bytes = s => Uint8Array.from(Buffer.from(s, 'utf8'))
// An ArrayBuffer holding exactly these bytes, as onChunkReceived gives them.
const buffer = u8 => u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength)

// What the server writes (server/alarms/hub.c): a hello with a comment, events, keep-alives.
// The site name and note are Chinese (three bytes a character), one character is outside the
// BMP (four bytes).
const ALARM_17 = '{"id":17,"device_id":"m-1","kind":"voltage.over","state":"raised","site":"北区配电房","note":null}'
const ALARM_18 = '{"id":18,"device_id":"m-2","kind":"offline","state":"acknowledged","note":"已派人 🔧 处理"}'
const STREAM =
  'retry: 5000\n: alarms\n\n' +
  'id: 17\nevent: alarm\ndata: ' + ALARM_17 + '\n\n' +
  ': keep-alive\n\n' +
  'id: 18\r\nevent: alarm\r\ndata: ' + ALARM_18 + '\r\n\r\n' +
  'event: alarm\rdata:first line\rdata\rdata: 第三行\r\r' +
  'id: 19\nevent: note\ndata:  two spaces, one kept\n\n'
const EXPECTED = [
  { event: 'alarm', id: '17', data: ALARM_17 },
  { event: 'alarm', id: '18', data: ALARM_18 },
  { event: 'alarm', id: '18', data: 'first line\n\n第三行' }, // the id carries on; a bare "data" adds an empty line
  { event: 'note', id: '19', data: ' two spaces, one kept' }
]

function readAll(parser, chunks) {
  return chunks.reduce((all, c) => all.concat(parser.push(buffer(c))), [])
}

test('the whole stream at once gives its events with their fields; comments and retry give none', () => {
  const p = createParser()
  expect(readAll(p, [bytes(STREAM)])).toEqual(EXPECTED)
  expect(p.dropped).toBe(0)
})

test('cut in two at every byte (inside Chinese characters, between CR and LF) the events are the same', () => {
  const all = bytes(STREAM)
  for (let cut = 0; cut <= all.length; cut++) {
    const got = readAll(createParser(), [all.subarray(0, cut), all.subarray(cut)])
    if (JSON.stringify(got) !== JSON.stringify(EXPECTED)) throw new Error('cut at byte ' + cut + ' gave ' + JSON.stringify(got))
  }
})

test('one byte at a time the events are the same, each as soon as its blank line arrives', () => {
  const all = bytes(STREAM)
  const p = createParser()
  const seen = []
  for (let i = 0; i < all.length; i++) {
    const got = p.push(buffer(all.subarray(i, i + 1)))
    got.forEach(e => seen.push({ e, at: i }))
  }
  expect(seen.map(x => x.e)).toEqual(EXPECTED)
  // The first event completes on the blank line right after its data.
  const first = STREAM.indexOf('\n\n', STREAM.indexOf('data: {"id":17')) + 1
  expect(seen[0].at).toBe(Buffer.byteLength(STREAM.slice(0, first), 'utf8'))
})

test('typed arrays and DataViews are read as their own range of bytes', () => {
  const all = bytes('xxdata: 北\n\nyy')
  const p = createParser()
  expect(p.push(new Uint8Array(all.buffer, 2, all.length - 4))).toEqual([{ event: 'message', id: '', data: '北' }])
  expect(p.push(new DataView(bytes('data: a\n\n').buffer))).toEqual([{ event: 'message', id: '', data: 'a' }])
})

test('an event past the cap is dropped up to its blank line; the next one reads', () => {
  const p = createParser({ maxEventBytes: 100 })
  const big = 'event: alarm\ndata: ' + 'x'.repeat(60) + '\ndata: ' + '北'.repeat(20) + '\n\n'
  const after = 'id: 2\nevent: alarm\ndata: {"id":2}\n\n'
  const all = bytes(big + after)
  for (let cut = 0; cut <= all.length; cut++) {
    const q = createParser({ maxEventBytes: 100 })
    const got = readAll(q, [all.subarray(0, cut), all.subarray(cut)])
    if (JSON.stringify(got) !== JSON.stringify([{ event: 'alarm', id: '2', data: '{"id":2}' }]) || q.dropped !== 1) {
      throw new Error('cut at byte ' + cut + ' gave ' + JSON.stringify(got) + ', dropped ' + q.dropped)
    }
  }
  // A single endless line never grows past the cap, and what follows its end still reads.
  const chunk = bytes('y'.repeat(1000))
  expect(p.push(buffer(bytes('data: ')))).toEqual([])
  for (let i = 0; i < 100; i++) expect(p.push(buffer(chunk))).toEqual([])
  expect(p.dropped).toBe(1)
  expect(p.push(buffer(bytes('\n\ndata: ok\n\n')))).toEqual([{ event: 'message', id: '', data: 'ok' }])
})

test('an event just under the cap is kept; one byte more is dropped', () => {
  const line = 'data: ' + 'a'.repeat(20) + '\n' // 27 bytes counted with its line end
  expect(createParser({ maxEventBytes: 27 }).push(buffer(bytes(line + '\n')))).toEqual([{ event: 'message', id: '', data: 'a'.repeat(20) }])
  const p = createParser({ maxEventBytes: 26 })
  expect(p.push(buffer(bytes(line + '\n')))).toEqual([])
  expect(p.dropped).toBe(1)
})

test('the default cap is 64 KiB', () => {
  const p = createParser()
  const ok = 'data: ' + 'a'.repeat(64 * 1024 - 8) + '\n\n'
  expect(p.push(buffer(bytes(ok)))).toHaveLength(1)
  const tooBig = 'data: ' + 'a'.repeat(64 * 1024) + '\n\n'
  expect(p.push(buffer(bytes(tooBig)))).toEqual([])
  expect(p.dropped).toBe(1)
})

test('a leading byte order mark is skipped, even cut between chunks; a later one is data', () => {
  const all = bytes('\ufeffdata: a\n\ndata: \ufeffb\n\n')
  for (let cut = 0; cut <= 4; cut++) {
    expect(readAll(createParser(), [all.subarray(0, cut), all.subarray(cut)])).toEqual([
      { event: 'message', id: '', data: 'a' }, { event: 'message', id: '', data: '\ufeffb' }
    ])
  }
  // Bytes that only start like a mark are kept.
  expect(readAll(createParser(), [Uint8Array.of(0xef), bytes('\n')])).toEqual([])
  expect(readAll(createParser(), [Uint8Array.of(0xef, 0xbb), bytes('x: 1\ndata: ok\n\n')])).toEqual([{ event: 'message', id: '', data: 'ok' }])
})

test('an id with a NUL is ignored, an empty id resets it, a block without data dispatches nothing', () => {
  const p = createParser()
  expect(p.push(buffer(bytes('id: 5\nevent: alarm\n\nid: 6\u0000\ndata: a\n\nid\ndata: b\n\n')))).toEqual([
    { event: 'message', id: '5', data: 'a' }, // the type does not carry on, the id does
    { event: 'message', id: '', data: 'b' }
  ])
})

test('reset forgets a half-read event and the last id', () => {
  const p = createParser()
  p.push(buffer(bytes('id: 9\ndata: half')))
  p.reset()
  expect(p.push(buffer(bytes('data: whole\n\n')))).toEqual([{ event: 'message', id: '', data: 'whole' }])
})

test('UTF-8 decoding: every length of character, and malformed bytes as U+FFFD', () => {
  expect(decodeUtf8(bytes('aé北🔧'))).toBe('aé北🔧')
  expect(decodeUtf8(bytes('北京'), 3)).toBe('京')
  expect(decodeUtf8(Uint8Array.of(0xe5, 0x8c, 0x41))).toBe('\ufffdA') // cut short
  expect(decodeUtf8(Uint8Array.of(0xc0, 0xaf))).toBe('\ufffd\ufffd') // overlong '/'
  expect(decodeUtf8(Uint8Array.of(0xed, 0xa0, 0x80))).toBe('\ufffd') // a surrogate
  expect(decodeUtf8(Uint8Array.of(0xf4, 0x90, 0x80, 0x80))).toBe('\ufffd') // past U+10FFFF
  expect(decodeUtf8(Uint8Array.of(0x80, 0xff))).toBe('\ufffd\ufffd')
  const long = '北'.repeat(10000) + '🔧'.repeat(3000)
  expect(decodeUtf8(bytes(long))).toBe(long)
  expect(decodeUtf8(bytes(long))).toBe(Buffer.from(long, 'utf8').toString('utf8'))
})

test('random streams read the same however they are cut, and never hold more than the cap', () => {
  // A fixed seed: the same streams every run.
  let seed = 20261207
  const rand = n => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  const parts = ['data: 北\n', 'data:x\r\n', 'data', 'event: alarm\n', 'id: 7\r', ': c\n', '\n', '\n', '\r', '\r\n',
    '北', '🔧', 'x', 'data: ', 'retry: 1\n', '\u0000']
  const odd = [0xff, 0xc3, 0xe5, 0x8c, 0x80, 0xf0]
  let events = 0
  let dropped = 0
  for (let round = 0; round < 300; round++) {
    const pieces = []
    const n = 1 + rand(120)
    for (let i = 0; i < n; i++) {
      if (rand(10) === 0) pieces.push(Uint8Array.of(odd[rand(odd.length)]))
      else if (rand(30) === 0) pieces.push(bytes('y'.repeat(rand(200))))
      else pieces.push(bytes(parts[rand(parts.length)]))
    }
    const all = Uint8Array.from(pieces.reduce((a, p) => a.concat(Array.from(p)), []))
    const whole = createParser({ maxEventBytes: 128 })
    const expected = whole.push(buffer(all))
    const cut = createParser({ maxEventBytes: 128 })
    const got = []
    for (let at = 0; at < all.length;) {
      const len = 1 + rand(9)
      got.push(...cut.push(buffer(all.subarray(at, at + len))))
      at += len
    }
    expect(got).toEqual(expected)
    expect(cut.dropped).toBe(whole.dropped)
    got.forEach(e => expect(Buffer.byteLength(e.data, 'utf8')).toBeLessThanOrEqual(128))
    events += got.length
    dropped += cut.dropped
  }
  // The streams did hold events, and oversized ones.
  expect(events).toBeGreaterThan(100)
  expect(dropped).toBeGreaterThan(10)
})
