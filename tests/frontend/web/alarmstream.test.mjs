// The dashboard's alarm stream (web/src/alarmstream.js) against a local HTTP server that
// speaks text/event-stream as meter-server does: the token goes in Authorization, events
// cut across chunks arrive whole, a dropped stream is opened again (onReconnect told, so
// the page reads the list again), a refused one waits longer each time, a 401 stops it.
import assert from 'node:assert/strict';
import http from 'node:http';
import test from 'node:test';

globalThis.sessionStorage = {
  getItem: () => JSON.stringify({ token: 'tok-1', username: 'op', role: 'operator' }),
};
const { openAlarmStream } = await import('../../../web/src/alarmstream.js');

function serve(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

const until = async (check, ms = 5000) => {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out: ${check}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

test('events arrive whole; a drop reconnects and says so', async () => {
  const auths = [];
  let conn = 0;
  const server = await serve((req, res) => {
    auths.push(req.headers.authorization);
    conn++;
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    res.write('retry: 50\n: hello\n\n');
    const ev = `id: ${conn}\nevent: alarm\ndata: {"id":${conn},"state":"raised"}\n\n`;
    res.write(ev.slice(0, 9));
    setTimeout(() => {
      res.write(ev.slice(9));
      if (conn === 1) setTimeout(() => res.destroy(), 20); // the first stream drops
    }, 20);
  });
  const alarms = [];
  const states = [];
  let reconnects = 0;
  const stop = openAlarmStream({
    url: `http://127.0.0.1:${server.address().port}/api/alarms/stream`,
    backoff: { base: 10, max: 40 },
    onAlarm: (a) => alarms.push(a.id),
    onState: (s) => states.push(s),
    onReconnect: () => reconnects++,
  });
  try {
    await until(() => alarms.length === 2);
    assert.deepEqual(alarms, [1, 2]);
    assert.equal(reconnects, 1);
    assert.deepEqual(auths, ['Bearer tok-1', 'Bearer tok-1']);
    assert.deepEqual(states.slice(0, 4), ['connecting', 'live', 'reconnecting', 'connecting']);
    assert.equal(states.at(-1), 'live');
  } finally {
    stop();
    server.closeAllConnections();
    server.close();
  }
});

test('a refused stream is tried again, each wait longer; a 401 stops it', async () => {
  const at = [];
  const server = await serve((req, res) => {
    at.push(Date.now());
    res.writeHead(at.length < 4 ? 503 : 401, { 'Content-Type': 'application/json' });
    res.end('{"status":"error","message":"busy"}');
  });
  let unauthorized = 0;
  const states = [];
  const stop = openAlarmStream({
    url: `http://127.0.0.1:${server.address().port}/api/alarms/stream`,
    backoff: { base: 40, max: 1000 },
    onAlarm: () => assert.fail('no events'),
    onState: (s) => states.push(s),
    onUnauthorized: () => unauthorized++,
  });
  try {
    await until(() => unauthorized === 1);
    assert.equal(at.length, 4);
    const waits = at.slice(1).map((t, k) => t - at[k]);
    // 40, 80, 160 ms less at most 20 % jitter (and the request's own time on top).
    assert.ok(waits[0] >= 30 && waits[1] >= 60 && waits[2] >= 125, `waits ${waits}`);
    assert.equal(states.at(-1), 'closed');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(at.length, 4, 'tried again after a 401');
  } finally {
    stop();
    server.close();
  }
});
