// 服务器推送事件（SSE）解析：把分块收到的字节拼成完整的事件。
// A server-sent events reader (the WHATWG "event stream" format) for bytes that arrive in
// pieces, as wx.request's onChunkReceived hands them over. Pure: no wx, no timers.
//
// - Bytes, not text, are split into lines: CR, LF and CRLF end a line, and none of them can
//   occur inside a multi-byte UTF-8 character, so a character cut between two chunks is whole
//   again before its line is decoded. The decoding is our own (WeChat's JS runtime does not
//   promise TextDecoder); a malformed sequence reads as U+FFFD.
// - Fields: `event` (the type, "message" when none), `data` (several lines joined with \n),
//   `id` (kept for the events that follow, as a browser's EventSource does). A line that
//   starts with ':' is a comment and is skipped; `retry` and unknown fields are ignored (the
//   caller picks its own reconnection delay). A block without data dispatches nothing.
// - A pending event (its lines so far, each with one byte for its end) is capped at maxEventBytes
//   (64 KiB unless told): past it the event is dropped, the bytes up to the next blank line are
//   skipped, and reading goes on from the event after it. `dropped` counts such events.

const MAX_EVENT_BYTES = 64 * 1024
const LF = 0x0a
const CR = 0x0d
const REPLACEMENT = 0xfffd
const BOM = [0xef, 0xbb, 0xbf]

// The text of bytes[start, end) as UTF-8 (RFC 3629): overlong forms, surrogates and code
// points past U+10FFFF are malformed; each malformed sequence gives one U+FFFD.
function decodeUtf8(bytes, start, end) {
  const from = start || 0
  const to = end === undefined ? bytes.length : end
  const units = []
  let out = ''
  let i = from
  while (i < to) {
    const b = bytes[i]
    let cp = REPLACEMENT
    let need = 0
    let min = 0
    if (b < 0x80) {
      cp = b
    } else if (b >= 0xc2 && b <= 0xdf) {
      need = 1; cp = b & 0x1f; min = 0x80
    } else if (b >= 0xe0 && b <= 0xef) {
      need = 2; cp = b & 0x0f; min = 0x800
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3; cp = b & 0x07; min = 0x10000
    }
    i++
    if (need) {
      let k = 0
      while (k < need && i < to && (bytes[i] & 0xc0) === 0x80) {
        cp = (cp << 6) | (bytes[i] & 0x3f)
        i++
        k++
      }
      if (k < need || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = REPLACEMENT
    }
    if (cp > 0xffff) {
      cp -= 0x10000
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff))
    } else {
      units.push(cp)
    }
    if (units.length >= 4096) { // String.fromCharCode takes its arguments on the stack
      out += String.fromCharCode.apply(null, units)
      units.length = 0
    }
  }
  return out + String.fromCharCode.apply(null, units)
}

// The bytes of an ArrayBuffer, a typed array or a DataView, without copying.
function bytesOf(chunk) {
  if (ArrayBuffer.isView(chunk)) return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  return new Uint8Array(chunk)
}

// A reader for one stream. options: {maxEventBytes}. push(chunk) takes the next bytes and
// returns the events they completed, in order: [{event, id, data}].
function createParser(options) {
  const max = (options && options.maxEventBytes) || MAX_EVENT_BYTES
  let line = new Uint8Array(256) // the line being read
  let lineLen = 0
  let afterCR = false   // the last byte was a CR: an LF right after it ends nothing
  let bomSeen = 0       // bytes of a leading byte order mark read so far (3: past it)
  let skipping = false  // dropping an oversized event up to its blank line
  let skippedLen = 0    // length of the line being skipped (0: it may be the blank one)
  let eventBytes = 0    // bytes of the pending event's finished lines
  let type = ''
  let data = []
  let lastId = ''

  const parser = { dropped: 0, push, reset }

  function clearEvent() {
    type = ''
    data = []
    eventBytes = 0
  }

  function reset() {
    lineLen = 0
    afterCR = false
    bomSeen = 0
    skipping = false
    skippedLen = 0
    lastId = ''
    clearEvent()
  }

  function drop() {
    parser.dropped++
    clearEvent()
    lineLen = 0
    skipping = true
    skippedLen = 1 // the cut line is not blank, however few of its bytes were kept
  }

  function field(name, value) {
    if (name === 'event') type = value
    else if (name === 'data') data.push(value)
    else if (name === 'id' && value.indexOf('\u0000') < 0) lastId = value
  }

  // One finished line of lineLen bytes.
  function endLine(out) {
    if (lineLen === 0) {
      if (data.length) out.push({ event: type || 'message', id: lastId, data: data.join('\n') })
      clearEvent()
      return
    }
    eventBytes += lineLen + 1
    if (line[0] === 0x3a) { // ':' a comment
      lineLen = 0
      return
    }
    let colon = line.indexOf(0x3a)
    if (colon < 0 || colon >= lineLen) colon = lineLen
    const name = decodeUtf8(line, 0, colon)
    let from = colon + 1
    if (from < lineLen && line[from] === 0x20) from++
    field(name, from < lineLen ? decodeUtf8(line, from, lineLen) : '')
    lineLen = 0
  }

  function keep(b) {
    if (lineLen === line.length) {
      const bigger = new Uint8Array(Math.min(line.length * 2, max + 1))
      bigger.set(line)
      line = bigger
    }
    line[lineLen++] = b
  }

  // One byte of the stream.
  function byte(b, out) {
    if (b === LF && afterCR) {
      afterCR = false
      return
    }
    afterCR = b === CR
    if (b === CR || b === LF) {
      if (!skipping) {
        endLine(out)
      } else {
        if (skippedLen === 0) skipping = false // the blank line that ends the dropped event
        skippedLen = 0
      }
    } else if (skipping) {
      skippedLen++
    } else if (eventBytes + lineLen + 2 > max) { // this byte and the line's end
      drop()
    } else {
      keep(b)
    }
  }

  function push(chunk) {
    const bytes = bytesOf(chunk)
    const out = []
    let i = 0
    // A byte order mark may open the stream, possibly itself cut between chunks.
    for (; bomSeen < BOM.length && i < bytes.length; i++) {
      if (bytes[i] !== BOM[bomSeen]) {
        for (let k = 0; k < bomSeen; k++) byte(BOM[k], out)
        bomSeen = BOM.length
        break
      }
      bomSeen++
    }
    for (; i < bytes.length; i++) byte(bytes[i], out)
    return out
  }

  return parser
}

module.exports = { createParser, decodeUtf8, MAX_EVENT_BYTES }
