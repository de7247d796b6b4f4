// The live alarm stream (GET /api/alarms/stream, docs/alarms.md "The live stream"). An
// EventSource cannot send the Authorization header, so the stream is read with fetch() and a
// streamed body. When it drops (server restart, network) it is opened again after a backoff
// (1 s doubling to 30 s, or the server's retry: when longer), and onReconnect is told so the
// caller reads GET /api/alarms for what it missed. A 401 stops it (onUnauthorized). Returns
// stop(). url and backoff ({base, max}) are for tests.
import { session } from './session.js';
import { backoffMs, sseParser } from './sse.js';

export function openAlarmStream({ onAlarm, onState = () => {}, onReconnect = () => {}, onUnauthorized = () => {},
  url = '/api/alarms/stream', backoff = {} }) {
  let stopped = false;
  let controller = null;
  let timer = null;
  let attempt = 0;
  let retryMs = 0;
  let opened = false;

  async function connect() {
    if (stopped) return;
    controller = new AbortController();
    onState('connecting');
    try {
      const res = await fetch(url, {
        headers: { Accept: 'text/event-stream', Authorization: `Bearer ${session.token()}` },
        signal: controller.signal,
        cache: 'no-store',
      });
      if (res.status === 401) {
        stopped = true;
        onState('closed');
        onUnauthorized();
        return;
      }
      if (!res.ok || !res.body) throw new Error(`${res.status}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      const push = sseParser((e) => {
        if (e.event !== 'alarm') return;
        try {
          onAlarm(JSON.parse(e.data));
        } catch {
          // a malformed event is skipped; the next GET /api/alarms puts things right
        }
      }, { onRetry: (ms) => { retryMs = ms; } });
      if (opened) onReconnect();
      opened = true;
      attempt = 0;
      onState('live');
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        push(decoder.decode(value, { stream: true }));
      }
    } catch {
      // dropped or refused: try again below
    }
    if (stopped) return;
    onState('reconnecting');
    const wait = Math.max(backoffMs(attempt++, backoff), Math.min(retryMs, 30000));
    timer = setTimeout(connect, wait);
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}
