// The dashboard's metadata checks (web/src/metafields.js) under node's own test runner: the
// server's bounds, an empty field clearing, and only changed fields sent.
import assert from 'node:assert/strict';
import test from 'node:test';
import { META_FIELDS, changedFields, parseField } from '../../../web/src/metafields.js';

const field = (name) => META_FIELDS.find((f) => f[0] === name);

test('every field the server takes is there once', () => {
  assert.deepEqual(META_FIELDS.map((f) => f[0]).sort(), ['address', 'ct_ratio', 'dtu_id', 'latitude', 'longitude', 'modbus_unit',
    'name', 'nominal_hz', 'nominal_voltage', 'poll_interval_s', 'pt_ratio', 'rated_current', 'rated_kva', 'register_map', 'site']);
});

test('numbers are checked against the bounds', () => {
  assert.deepEqual(parseField(field('nominal_hz'), '60'), { value: 60 });
  assert.equal(parseField(field('nominal_hz'), '55').error[0], 'meta.bad_hz');
  assert.deepEqual(parseField(field('latitude'), ' -90 '), { value: -90 });
  assert.equal(parseField(field('latitude'), '90.01').error[0], 'meta.bad_number');
  assert.equal(parseField(field('latitude'), '1e1').error[0], 'meta.bad_number');
  assert.deepEqual(parseField(field('nominal_voltage'), '1000000'), { value: 1e6 });
  assert.equal(parseField(field('nominal_voltage'), '1000000.5').error[0], 'meta.bad_number');
  assert.equal(parseField(field('ct_ratio'), '0.5').error[0], 'meta.bad_number');
  assert.deepEqual(parseField(field('modbus_unit'), '247'), { value: 247 });
  assert.equal(parseField(field('modbus_unit'), '2.5').error[0], 'meta.bad_int');
  assert.equal(parseField(field('modbus_unit'), '0').error[0], 'meta.bad_int');
});

test('text is bounded in characters, not bytes, and printable', () => {
  assert.deepEqual(parseField(field('name'), '变'.repeat(64)), { value: '变'.repeat(64) });
  assert.equal(parseField(field('name'), '变'.repeat(65)).error[0], 'meta.bad_text');
  assert.equal(parseField(field('name'), 'a\tb').error[0], 'meta.bad_text');
  assert.deepEqual(parseField(field('dtu_id'), '860000000000001'), { value: '860000000000001' });
  assert.equal(parseField(field('dtu_id'), 'a b').error[0], 'meta.bad_ascii');
  assert.equal(parseField(field('register_map'), 'SDM630').error[0], 'meta.bad_map');
});

test('an empty field clears, and only changes are sent', () => {
  assert.deepEqual(parseField(field('site'), '   '), { value: null });
  const before = { name: 'T1', site: 'North', nominal_hz: 50, latitude: 31.2 };
  assert.deepEqual(changedFields(before, { name: 'T1', site: 'South', nominal_hz: 50, latitude: null, ct_ratio: null }),
    { site: 'South', latitude: null });
});
