// A parser of server-sent events (text/event-stream, as the WHATWG spec reads it): text goes
// in as it arrives, in pieces cut anywhere; complete events come out as {id, event, data}.
// Comments (": keep-alive") and "retry:" lines are noted, never events. Pure: no DOM, no I/O.
export function sseParser(onEvent, { onRetry = () => {}, onComment = () => {} } = {}) {
  let buf = '';
  let data = [];
  let event = '';
  let id = null;

  function line(l) {
    if (l === '') {
      if (data.length) onEvent({ id, event: event || 'message', data: data.join('\n') });
      data = [];
      event = '';
      return;
    }
    if (l.startsWith(':')) {
      onComment(l.slice(1).trim());
      return;
    }
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id' && !value.includes('\0')) id = value;
    else if (field === 'retry' && /^\d+$/.test(value)) onRetry(Number(value));
  }

  return function push(text) {
    buf += text;
    for (;;) {
      const m = /\r\n|\r|\n/.exec(buf);
      // A lone \r at the end may be the first half of \r\n: wait for more.
      if (!m || (m[0] === '\r' && m.index === buf.length - 1)) break;
      line(buf.slice(0, m.index));
      buf = buf.slice(m.index + m[0].length);
    }
  };
}

// The next wait before reconnecting: doubles from base up to max, with up to 20 % jitter
// (random() in [0, 1) is passed in so tests can fix it).
export function backoffMs(attempt, { base = 1000, max = 30000, random = Math.random } = {}) {
  const d = Math.min(max, base * 2 ** Math.min(attempt, 16));
  return Math.round(d * (1 - 0.2 * random()));
}
