// The dashboard's three-phase model (web/src/threephase.js) under node's own test runner:
// which readings are three-phase, the table's rows and the phasors' angles and lengths.
import assert from 'node:assert/strict';
import test from 'node:test';
import { foldDeg, isThreePhase, phaseRows, phasors, toDate, totalRow } from '../../../web/src/threephase.js';

// A 3p4w reading, phases in the order abc, b's current lagging 31°.
const READING = {
  wiring: '3p4w', sequence: 'abc', voltage: 228.83, current: 10.5, power_w: 6479.62, pf: 0.8985, thd_v: 3.4,
  voltage_a: 231.2, voltage_b: 228.4, voltage_c: 226.9, current_a: 10.5, current_b: 12.6, current_c: 8.4,
  power_w_a: 2200.15, power_w_b: 2466.83, power_w_c: 1812.64, pf_b: 0.857167,
  phase_deg_a: 25, phase_deg_b: 31, phase_deg_c: 18, angle_v_b: -119.4, angle_v_c: 120.7,
  energy_a_wh: 512061, thd_i_c: 6.2,
};

const byKey = (list) => Object.fromEntries(list.map((p) => [p.key, p]));
const close = (a, b, what) => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} is not ${b}`);

test('only 3p4w and 3p3w readings are three-phase', () => {
  assert.equal(isThreePhase(READING), true);
  assert.equal(isThreePhase({ ...READING, wiring: '3p3w' }), true);
  for (const r of [{ voltage: 230 }, { wiring: '1p2w' }, { wiring: '3P4W' }, { wiring: 'x' }, null, undefined]) {
    assert.equal(isThreePhase(r), false, JSON.stringify(r));
  }
});

test('the table has a row per phase with what the reading carries and null for the rest', () => {
  const rows = phaseRows(READING);
  assert.deepEqual(rows.map((r) => r.phase), ['a', 'b', 'c']);
  assert.equal(rows[1].current, 12.6);
  assert.equal(rows[1].pf, 0.857167);
  assert.equal(rows[0].energy_wh, 512061);
  assert.equal(rows[2].thd_i, 6.2);
  assert.equal(rows[0].pf, null);
  assert.equal(rows[0].reactive_var, null);
  const total = totalRow(READING);
  assert.equal(total.power_w, 6479.62);
  assert.equal(total.thd_v, 3.4);
  assert.equal(total.phase_deg, null);
});

test('voltages sit at 0, angle_v_b and angle_v_c; each current its phase_deg behind', () => {
  const p = byKey(phasors(READING));
  assert.deepEqual(Object.keys(p), ['Va', 'Vb', 'Vc', 'Ia', 'Ib', 'Ic']);
  close(p.Va.angle_deg, 0, 'Va');
  close(p.Vb.angle_deg, -119.4, 'Vb');
  close(p.Vc.angle_deg, 120.7, 'Vc');
  close(p.Ia.angle_deg, -25, 'Ia');
  close(p.Ib.angle_deg, -150.4, 'Ib');
  close(p.Ic.angle_deg, 102.7, 'Ic');
});

test('angles fold into (-180, 180]: a current lagging past -180 comes round', () => {
  const p = byKey(phasors({ ...READING, angle_v_b: -170, phase_deg_b: 30 }));
  close(p.Ib.angle_deg, 160, 'Ib');
  close(foldDeg(540), 180, '540');
  close(foldDeg(-180), 180, '-180');
  close(foldDeg(-181), 179, '-181');
  close(foldDeg(359), -1, '359');
});

test('lengths are scaled per quantity: the largest voltage 1, the largest current 0.75', () => {
  const p = byKey(phasors(READING));
  close(p.Va.length, 1, 'Va');
  close(p.Vc.length, 226.9 / 231.2, 'Vc');
  close(p.Ib.length, 0.75, 'Ib');
  close(p.Ic.length, 0.75 * 8.4 / 12.6, 'Ic');
  assert.equal(p.Ia.magnitude, 10.5);
  const zero = byKey(phasors({ ...READING, current_a: 0, current_b: 0, current_c: 0 }));
  assert.equal(zero.Ia.length, 0);
});

test('a phasor whose magnitude or angle is missing is left out', () => {
  const noC = { ...READING };
  delete noC.angle_v_c;
  delete noC.phase_deg_a;
  assert.deepEqual(phasors(noC).map((p) => p.key), ['Va', 'Vb', 'Ib']);
  assert.deepEqual(phasors({ wiring: '3p4w' }), []);
});

test('the demand time is epoch milliseconds or an ISO string', () => {
  assert.equal(toDate(1795417260000).toISOString(), '2026-11-23T07:01:00.000Z');
  assert.equal(toDate('2026-11-23T07:01:00.000Z').getTime(), 1795417260000);
  assert.equal(toDate(null), null);
  assert.equal(toDate('not a time'), null);
});
