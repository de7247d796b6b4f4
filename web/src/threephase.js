// Three-phase readings (docs/protocol.md, "Three-phase readings") turned into what the
// dashboard draws: the per-phase rows of the table and the six phasors. Pure functions of a
// reading object as the API returns it; nothing here touches the page.

export const PHASES = ['a', 'b', 'c'];

// Whether a reading comes from a meter wired three-phase. A reading without `wiring` (every
// single-phase meter's, and every reading from before three-phase existed) is single-phase.
export function isThreePhase(r) {
  return !!r && (r.wiring === '3p4w' || r.wiring === '3p3w');
}

const numOrNull = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

// One row per phase with the quantities the table shows (null where the reading lacks one).
export function phaseRows(r) {
  return PHASES.map((p) => ({
    phase: p,
    voltage: numOrNull(r[`voltage_${p}`]),
    current: numOrNull(r[`current_${p}`]),
    power_w: numOrNull(r[`power_w_${p}`]),
    reactive_var: numOrNull(r[`reactive_var_${p}`]),
    apparent_va: numOrNull(r[`apparent_va_${p}`]),
    pf: numOrNull(r[`pf_${p}`]),
    phase_deg: numOrNull(r[`phase_deg_${p}`]),
    thd_v: numOrNull(r[`thd_v_${p}`]),
    thd_i: numOrNull(r[`thd_i_${p}`]),
    energy_wh: numOrNull(r[`energy_${p}_wh`]),
  }));
}

// The totals row: the reading's aggregate fields (sums of the phases for powers, total PF,
// the largest phase THD), as the protocol defines them for three-phase readings.
export function totalRow(r) {
  return {
    voltage: numOrNull(r.voltage),
    current: numOrNull(r.current),
    power_w: numOrNull(r.power_w),
    reactive_var: numOrNull(r.reactive_var),
    apparent_va: numOrNull(r.apparent_va),
    pf: numOrNull(r.pf),
    phase_deg: null,
    thd_v: numOrNull(r.thd_v),
    thd_i: numOrNull(r.thd_i),
    energy_wh: numOrNull(r.energy_wh),
  };
}

// An angle in degrees folded into (-180, 180].
export function foldDeg(deg) {
  let a = deg % 360;
  if (a > 180) a -= 360;
  if (a <= -180) a += 360;
  return a;
}

// The six phasors: voltages at a = 0, b = angle_v_b, c = angle_v_c (relative to phase a's
// voltage), each current at its voltage's angle minus its phase_deg (a lagging current turns
// clockwise). Lengths are scaled per quantity so the largest voltage and the largest current
// reach 1 and currentScale of the plot; a phasor whose magnitude or angle is missing is left
// out. Returns [{ key: 'Va'..'Ic', kind: 'v'|'i', phase, magnitude, angle_deg, length }].
export function phasors(r, { currentScale = 0.75 } = {}) {
  const vAngle = { a: 0, b: numOrNull(r.angle_v_b), c: numOrNull(r.angle_v_c) };
  const out = [];
  for (const kind of ['v', 'i']) {
    const field = kind === 'v' ? 'voltage' : 'current';
    const items = PHASES.map((p) => {
      const magnitude = numOrNull(r[`${field}_${p}`]);
      const lag = numOrNull(r[`phase_deg_${p}`]);
      let angle = vAngle[p];
      if (kind === 'i') angle = angle === null || lag === null ? null : angle - lag;
      return { key: `${kind.toUpperCase()}${p}`, kind, phase: p, magnitude, angle_deg: angle === null ? null : foldDeg(angle) };
    }).filter((x) => x.magnitude !== null && x.angle_deg !== null);
    const largest = Math.max(0, ...items.map((x) => x.magnitude));
    const full = kind === 'v' ? 1 : currentScale;
    for (const x of items) out.push({ ...x, length: largest > 0 ? (x.magnitude / largest) * full : 0 });
  }
  return out;
}

// Epoch milliseconds (or an ISO string) as a Date, null when absent or not a time.
export function toDate(v) {
  if (typeof v !== 'number' && typeof v !== 'string') return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}
