// The dashboard's alarm modules under node's own test runner: the server-sent events parser
// and the reconnect backoff (web/src/sse.js), the list and its count kept in step with the
// stream (web/src/alarmfilter.js) and the alarm-rules editor's checks (web/src/alarmrules.js).
import assert from 'node:assert/strict';
import test from 'node:test';
import { backoffMs, sseParser } from '../../../web/src/sse.js';
import { matches, mergeAlarm, totalAfter } from '../../../web/src/alarmfilter.js';
import { formOf, parseRule, rulesBody } from '../../../web/src/alarmrules.js';

test('events cut anywhere come out whole; comments and retry are not events', () => {
  const events = [];
  const retries = [];
  const comments = [];
  const push = sseParser((e) => events.push(e), { onRetry: (ms) => retries.push(ms), onComment: (c) => comments.push(c) });
  const text = 'retry: 5000\n: hello\n\nid: 17\nevent: alarm\ndata: {"id":17,\ndata: "state":"raised"}\n\r\n: keep-alive\n\nid: 18\r\nevent: alarm\r\ndata: {"id":18}\r\n\r\n';
  for (let k = 0; k < text.length; k += 3) push(text.slice(k, k + 3));
  assert.deepEqual(events, [
    { id: '17', event: 'alarm', data: '{"id":17,\n"state":"raised"}' },
    { id: '18', event: 'alarm', data: '{"id":18}' },
  ]);
  assert.deepEqual(retries, [5000]);
  assert.deepEqual(comments, ['hello', 'keep-alive']);
});

test('an event without its blank line is held back', () => {
  const events = [];
  const push = sseParser((e) => events.push(e));
  push('event: alarm\ndata: {"id":1}\n');
  assert.equal(events.length, 0);
  push('\n');
  assert.equal(events.length, 1);
  push('data\n\n'); // a field without a colon: empty data, still an event
  assert.deepEqual(events[1], { id: null, event: 'message', data: '' });
});

test('the backoff doubles up to its ceiling, with at most 20 % taken off', () => {
  const fixed = { random: () => 0 };
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 40].map((n) => backoffMs(n, fixed)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(backoffMs(0, { random: () => 0.999999 }), 800);
});

test('a changed alarm replaces its older self; the filters are the server\'s', () => {
  const a = { id: 5, device_id: 'm-1', kind: 'voltage.over', severity: 'major', state: 'raised', site: 'north', raised_at: '2026-12-07T06:00:00Z' };
  let list = mergeAlarm([{ id: 3 }, { id: 7 }], a);
  assert.deepEqual(list.map((x) => x.id), [7, 5, 3]);
  list = mergeAlarm(list, { ...a, state: 'acknowledged' });
  assert.deepEqual(list.map((x) => [x.id, x.state]), [[7, undefined], [5, 'acknowledged'], [3, undefined]]);
  assert.equal(matches(a, { state: 'open' }), true);
  assert.equal(matches({ ...a, state: 'cleared' }, { state: 'open' }), false);
  assert.equal(matches({ ...a, state: 'cleared' }, { state: 'raised,cleared' }), true);
  assert.equal(matches(a, { severity: 'critical' }), false);
  assert.equal(matches(a, { device: 'm-2' }), false);
  assert.equal(matches(a, { site: 'north', since: '2026-12-07T14:00:00+08:00' }), true);
  assert.equal(matches(a, { until: '2026-12-07T06:00:00Z' }), false, 'until is exclusive');
});

test('the count follows the stream where the pages read know the alarm, and only there', () => {
  const a = (id, state) => ({ id, device_id: 'm-1', kind: 'voltage.over', severity: 'major', state, raised_at: '2026-12-07T06:00:00Z' });
  const list = [a(60, 'raised'), a(55, 'acknowledged'), a(50, 'raised')]; // read down to 50; 57 match in all
  const open = { state: 'open' };
  assert.equal(totalAfter(57, list, a(61, 'raised'), open, 50), 58, 'a new alarm that matches');
  assert.equal(totalAfter(57, list, a(61, 'raised'), { state: 'acknowledged' }, 50), 57, 'a new alarm that does not');
  assert.equal(totalAfter(57, list, a(55, 'cleared'), open, 50), 56, 'a listed one that leaves');
  assert.equal(totalAfter(57, list, a(55, 'raised'), open, 50), 57, 'a listed one that stays');
  assert.equal(totalAfter(57, list, a(52, 'raised'), { state: 'raised' }, 50), 58, 'one read before, now matching');
  assert.equal(totalAfter(57, list, a(40, 'cleared'), open, 50), 57, 'older than the pages read: not known to be counted');
  assert.equal(totalAfter(3, list, a(50, 'cleared'), open, null), 2, 'every page read: the list is the whole');
  assert.equal(totalAfter(3, list, a(40, 'raised'), open, null), 4);
  assert.equal(totalAfter(null, list, a(61, 'raised'), open, 50), null, 'a server without total');
});

test('the rules editor checks each field and sends only what is set', () => {
  assert.deepEqual(parseRule({ enabled: '', limit: '', min_duration_s: '', hysteresis: '' }), { override: null, errors: {} });
  assert.deepEqual(parseRule({ enabled: 'on', limit: ' 225.5 ', min_duration_s: '0', hysteresis: '1' }).override,
    { enabled: true, limit: 225.5, min_duration_s: 0, hysteresis: 1 });
  const bad = parseRule({ enabled: 'maybe', limit: '2e3', min_duration_s: '604801', hysteresis: '-1' });
  assert.deepEqual(Object.keys(bad.errors).sort(), ['enabled', 'hysteresis', 'limit', 'min_duration_s']);
  assert.equal(parseRule({ min_duration_s: '1.5' }).errors.min_duration_s[0], 'rules.bad_duration');
  const { body, errors } = rulesBody({ 'voltage.over': { limit: '240' }, thd_v: { enabled: 'off' }, frequency: {} });
  assert.deepEqual(errors, {});
  assert.deepEqual(body, { rules: { 'voltage.over': { limit: 240 }, thd_v: { enabled: false } } });
  assert.deepEqual(formOf({ override: { limit: 240, enabled: false } }), { enabled: 'off', limit: '240', min_duration_s: '', hysteresis: '' });
  assert.deepEqual(formOf({ override: null }), { enabled: '', limit: '', min_duration_s: '', hysteresis: '' });
});
