const { installWx } = require('./helpers/wx-mock.js')
const format = require('../utils/format.js')

describe('money', () => {
  test.each([
    [1150.35, '1150.35'],
    [100, '100.00'],
    [0, '0.00'],
    [0.1 + 0.2, '0.30'],
    [100000000000, '100000000000.00'],
    [-3.5, '-3.50'],
    ['50.25', '50.25'],
    ['7', '7.00'],
    ['0.5', '0.50'],
    [null, '--'],
    [undefined, '--'],
    ['abc', '--'],
    [NaN, '--']
  ])('formatMoney(%p) is %p', (value, shown) => {
    expect(format.formatMoney(value)).toBe(shown)
  })

  test('parseAmount takes positive yuan with up to two decimals', () => {
    expect(format.parseAmount('50.25')).toEqual({ ok: true, fen: 5025, yuan: '50.25' })
    expect(format.parseAmount('0.01')).toEqual({ ok: true, fen: 1, yuan: '0.01' })
    expect(format.parseAmount('10000000')).toEqual({ ok: true, fen: 1000000000, yuan: '10000000.00' })
    expect(format.parseAmount('000000012.5')).toEqual({ ok: true, fen: 1250, yuan: '12.50' })
    for (const bad of ['0', '-1', '1.005', 'abc', '', ' ', '1.', '.5', '+1', '1e3', '1,000', '10000000.01', '123456789']) {
      expect(format.parseAmount(bad).ok).toBe(false)
    }
    expect(format.parseAmount(undefined).ok).toBe(false)
  })
})

describe('times are shown in local time', () => {
  // Chinese, as the phone reports zh_CN, unless a test says otherwise
  beforeEach(() => installWx())

  test('the test zone is China Standard Time', () => {
    expect(new Date('2026-01-01T00:00:00Z').getTimezoneOffset()).toBe(-480)
  })

  test('formats', () => {
    expect(format.formatDateTime('2026-11-23T18:45:52.355Z')).toBe('2026-11-24 02:45:52')
    expect(format.formatClock('2026-11-23T18:45:52.355Z')).toBe('02:45')
    expect(format.formatShortDateTime('2026-11-23T18:45:52.355Z')).toBe('11-24 02:45')
    expect(format.formatDayHour('2026-11-23T18:45:52.355Z')).toBe('24日02时')
    expect(format.formatDateTime(null)).toBe('--')
    expect(format.formatDateTime('not a time')).toBe('--')
  })

  test('formatAgo', () => {
    const now = Date.parse('2026-11-23T12:00:00Z')
    expect(format.formatAgo('2026-11-23T11:59:30Z', now)).toBe('刚刚')
    expect(format.formatAgo('2026-11-23T11:45:00Z', now)).toBe('15 分钟前')
    expect(format.formatAgo('2026-11-23T09:00:00Z', now)).toBe('3 小时前')
    expect(format.formatAgo('2026-11-20T12:00:00Z', now)).toBe('3 天前')
  })

  test('in English', () => {
    installWx({ language: 'en' })
    const now = Date.parse('2026-11-23T12:00:00Z')
    expect(format.formatDayHour('2026-11-23T18:45:52.355Z')).toBe('24 02:00')
    expect(format.formatAgo('2026-11-23T11:59:30Z', now)).toBe('just now')
    expect(format.formatAgo('2026-11-23T11:45:00Z', now)).toBe('15 min ago')
    expect(format.formatAgo('2026-11-23T09:00:00Z', now)).toBe('3 h ago')
    expect(format.formatAgo('2026-11-20T12:00:00Z', now)).toBe('3 d ago')
    expect(format.parseAmount('').message).toBe('Enter an amount')
    expect(format.parseAmount('0').message).toBe('The amount must be more than 0')
    expect(format.parseAmount('1.234').message).toMatch(/^Wrong amount/)
  })

  test('formatNumber', () => {
    expect(format.formatNumber(230.04, 1)).toBe('230.0')
    expect(format.formatNumber(undefined, 1)).toBe('--')
  })
})
