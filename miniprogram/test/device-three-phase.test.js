const { installWx, loginAs, ok, flush } = require('./helpers/wx-mock.js')
const { render, text, pageText } = require('./helpers/page.js')
const { createCanvas } = require('./helpers/canvas.js')
const chart = require('../utils/chart.js')
const phases = require('../utils/phases.js')

// A three-phase (3p4w) meter's latest reading as GET /api/devices/:id answers it, the phases
// in the wrong order (acb).
const THREE = {
  status: 'success', device_id: 'meter-3p', balance: 820.5, status: 'online',
  latest: {
    timestamp: '2026-11-23T18:46:02.000Z', seq: 77, wiring: '3p4w', sequence: 'acb',
    voltage: 228.83, current: 10.5, power_w: 6479.62, pf: 0.8985, freq_hz: 50.02, energy_wh: 1514183,
    voltage_a: 231.2, voltage_b: 228.4, voltage_c: 226.9,
    current_a: 10.5, current_b: 12.6, current_c: 8.4, current_n: 3.7,
    power_w_a: 2200.15, power_w_b: 2466.83, power_w_c: 1812.64,
    angle_v_b: 119.4, angle_v_c: -120.7, phase_deg_a: 25, phase_deg_b: 31, phase_deg_c: 18
  }
}

const SINGLE = {
  status: 'success', device_id: 'meter-1p', balance: 99.9, status: 'online',
  latest: { timestamp: '2026-11-23T18:46:02.000Z', seq: 5, voltage: 230.3, current: 3.2, power_w: 736.96, pf: 0.98 }
}

let env

beforeEach(() => {
  env = installWx()
  loginAs(env, 'alice', 'user')
  env.routes['GET /api/devices/meter-3p'] = ok(THREE)
  env.routes['GET /api/devices/meter-1p'] = ok(SINGLE)
  env.routes['GET /api/device/data/meter-3p'] = ok([])
  env.routes['GET /api/device/data/meter-1p'] = ok([])
  jest.spyOn(chart, 'queryCanvas').mockImplementation(() => Promise.resolve(createCanvas(320, 240)))
  jest.spyOn(global, 'setInterval').mockImplementation(() => 1)
  jest.spyOn(global, 'clearInterval').mockImplementation(() => {})
})

afterEach(() => {
  jest.restoreAllMocks()
})

// The texts of a phase row's cells (name, voltage, current, power), joined by " | ".
function row(page, selector) {
  const node = page.querySelector(selector)
  return node ? Array.from(node.dom.children, c => c.textContent.trim()).join(' | ') : null
}

async function open(id) {
  const page = render('device')
  await page.instance.onLoad({ id })
  await page.instance.onShow()
  return page
}

test('a three-phase device shows voltage, current and power of each phase and the neutral', async () => {
  const page = await open('meter-3p')
  expect(text(page, '#wiring')).toBe('三相四线')
  expect(page.querySelectorAll('.phase-row')).toHaveLength(5) // the heading and a, b, c, n
  expect(row(page, '.phase-head')).toBe('相 | 电压 V | 电流 A | 有功 W')
  expect(row(page, '#phase-a')).toBe('A 相 | 231.2 | 10.50 | 2200.2')
  expect(row(page, '#phase-b')).toBe('B 相 | 228.4 | 12.60 | 2466.8')
  expect(row(page, '#phase-c')).toBe('C 相 | 226.9 | 8.40 | 1812.6')
  expect(row(page, '#phase-n')).toBe('中性线 |  | 3.70 | ')
  // The live values say what the aggregates are for three phases.
  expect(text(page, '#value-voltage')).toBe('平均电压228.8 V')
  expect(text(page, '#value-current')).toBe('平均电流10.50 A')
  expect(text(page, '#value-power_w')).toBe('总有功功率6479.6 W')
})

test('phases in the wrong order are flagged, and the flag goes with the next reading in order', async () => {
  const page = await open('meter-3p')
  expect(text(page, '#sequence-wrong')).toBe('相序错误（ACB）：有两相接反，请检查接线')

  env.routes['GET /api/devices/meter-3p'] = ok(Object.assign({}, THREE, {
    latest: Object.assign({}, THREE.latest, { sequence: 'abc', current_a: 11.25 })
  }))
  await page.instance.refreshLatest()
  await flush()
  expect(page.querySelector('#sequence-wrong')).toBeFalsy()
  expect(row(page, '#phase-a')).toBe('A 相 | 231.2 | 11.25 | 2200.2')
})

test('a phase the reading lacks shows dashes, and 3p3w has no neutral row', async () => {
  const latest = Object.assign({}, THREE.latest, { wiring: '3p3w', sequence: 'abc' })
  delete latest.current_n
  delete latest.voltage_c
  env.routes['GET /api/devices/meter-3p'] = ok(Object.assign({}, THREE, { latest }))
  const page = await open('meter-3p')
  expect(text(page, '#wiring')).toBe('三相三线')
  expect(row(page, '#phase-c')).toBe('C 相 | -- | 8.40 | 1812.6')
  expect(page.querySelector('#phase-n')).toBeFalsy()
  expect(page.querySelector('#sequence-wrong')).toBeFalsy()
})

test('a single-phase device shows today\'s view: no per-phase card, the usual labels', async () => {
  const page = await open('meter-1p')
  expect(page.querySelector('#phases')).toBeFalsy()
  expect(page.querySelectorAll('.phase-row')).toHaveLength(0)
  expect(text(page, '#value-voltage')).toBe('电压230.3 V')
  expect(text(page, '#value-power_w')).toBe('有功功率737.0 W')
  expect(pageText(page)).not.toContain('分相数据')
})

test('only 3p4w and 3p3w readings count as three-phase', () => {
  expect(phases.isThreePhase(THREE.latest)).toBe(true)
  expect(phases.isThreePhase(SINGLE.latest)).toBe(false)
  expect(phases.isThreePhase({ wiring: '1p2w', voltage: 230 })).toBe(false)
  expect(phases.isThreePhase({ wiring: '3p5w' })).toBe(false)
  expect(phases.isThreePhase(null)).toBe(false)
  expect(phases.view(SINGLE.latest)).toEqual({ threePhase: false, phases: [], wiringText: '', sequenceWrong: false })
})
