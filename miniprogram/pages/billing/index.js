// 电费与账单：按日 / 按月的用电量和电费（分时段：尖、峰、平、谷）与余额流水（充值、微信支付、
// 电费扣款及每笔之后的余额）。
// Cost and ledger: energy and cost per day or month, split by tariff period, from
// GET /api/devices/:id/energy; the balance changes (recharges, payments, charges, each with
// the balance after it) from GET /api/devices/:id/ledger.
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')
const i18n = require('../../utils/i18n.js')

// The page's two views; the labels are billing.day and billing.month.
const PERIODS = ['day', 'month']

// The ledger's kinds (docs/api.md, GET /api/devices/:id/ledger): billing.kind_<kind>.
const KINDS = ['recharge', 'payment', 'charge']

const LEDGER_LIMIT = 50

function kwh(wh) {
  return typeof wh === 'number' && isFinite(wh) ? format.formatNumber(wh / 1000, 3) : '--'
}

// "+50.00" or "-1.23": the sign of a ledger amount, from integer fen.
function signedMoney(value) {
  const fen = format.toFen(value)
  if (fen === null) return '--'
  return (fen > 0 ? '+' : '') + format.fenToYuan(fen)
}

// The price in yuan/kWh: the server writes it as a string with 4 decimals ("1.0237").
function priceText(price) {
  if (typeof price === 'string' && /^\d+(\.\d{1,4})?$/.test(price)) return price
  if (typeof price === 'number' && isFinite(price)) return price.toFixed(4)
  return '--'
}

function periodRow(p, i) {
  const label = typeof p.label === 'string' && p.label !== '' ? p.label : i18n.t('billing.flatRate')
  return {
    key: i,
    label,
    priceText: priceText(p.price),
    kwhText: kwh(p.energy_wh),
    costText: format.formatMoney(p.cost)
  }
}

// The buckets that used energy or cost money, newest first.
function bucketRows(buckets) {
  return (Array.isArray(buckets) ? buckets : [])
    .filter(b => b && ((typeof b.energy_wh === 'number' && b.energy_wh > 0) || format.toFen(b.cost) > 0))
    .reverse()
    .map(b => ({
      date: String(b.date),
      kwhText: kwh(b.energy_wh),
      costText: format.formatMoney(b.cost),
      periods: (Array.isArray(b.periods) ? b.periods : []).map(periodRow)
    }))
}

function ledgerRows(entries) {
  return (Array.isArray(entries) ? entries : []).map(e => ({
    id: e.id,
    kind: e.kind,
    kindText: KINDS.indexOf(e.kind) >= 0 ? i18n.t('billing.kind_' + e.kind) : e.kind,
    amountText: signedMoney(e.amount),
    negative: (format.toFen(e.amount) || 0) < 0,
    balanceAfterText: format.formatMoney(e.balance_after),
    timeText: format.formatDateTime(e.created_at)
  }))
}

Component({
  data: {
    id: '',
    s: {},
    periods: [],
    period: 'day',
    totalCostText: '--',
    buckets: [],
    costLoading: false,
    costError: '',
    balanceText: '--',
    entries: [],
    ledgerError: ''
  },

  lifetimes: {
    attached() {
      this.setData({
        s: i18n.section('billing', { count: LEDGER_LIMIT }),
        periods: PERIODS.map(key => ({ key, label: i18n.t('billing.' + key) }))
      })
    }
  },

  methods: {
    onLoad(options) {
      const id = decodeURIComponent((options && options.id) || '')
      this.deviceId = id
      this.costSeq = 0
      this.setData({ id })
      i18n.setTitle(i18n.t('billing.title'))
      return Promise.all([this.loadCost(), this.loadLedger()])
    },

    onPullDownRefresh() {
      return Promise.all([this.loadCost(), this.loadLedger()]).then(() => wx.stopPullDownRefresh())
    },

    loadCost() {
      const seq = ++this.costSeq
      const period = this.data.period
      this.setData({ costLoading: true, costError: '' })
      return api.energy(this.deviceId, { period }).then(body => {
        if (seq !== this.costSeq) return
        this.setData({
          costLoading: false,
          totalCostText: format.formatMoney(body && body.cost),
          buckets: bucketRows(body && body.buckets)
        })
      }, err => {
        if (seq !== this.costSeq) return
        this.setData({ costLoading: false, costError: err.message, buckets: [], totalCostText: '--' })
      })
    },

    loadLedger() {
      return api.ledger(this.deviceId, LEDGER_LIMIT).then(body => {
        this.setData({
          balanceText: format.formatMoney(body && body.balance),
          entries: ledgerRows(body && body.entries),
          ledgerError: ''
        })
      }, err => {
        this.setData({ ledgerError: err.message, entries: [] })
      })
    },

    onPeriod(e) {
      const period = e.currentTarget.dataset.period
      if (PERIODS.indexOf(period) < 0 || period === this.data.period) return Promise.resolve()
      this.setData({ period })
      return this.loadCost()
    }
  }
})
