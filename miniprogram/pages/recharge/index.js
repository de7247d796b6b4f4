// 充值页：金额校验（最多两位小数）。住户用微信支付充值：下单、wx.requestPayment，再向服务器确认到账；
// 物业或运营人员在柜台充值，每次充值一个 Idempotency-Key（重试时沿用）。
// Recharge page: the amount is checked before sending. A tenant pays with WeChat Pay (an
// order on the server, wx.requestPayment, then the server's word that the payment arrived);
// operators and admins recharge at the counter with one Idempotency-Key per attempt, reused
// when the same attempt is retried, so a retry never credits twice.
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')
const i18n = require('../../utils/i18n.js')

// After wx.requestPayment succeeds, WeChat Pay tells the server on its own: ask a few times.
const PAID_POLLS = 10
const PAID_POLL_MS = 1000

// What the result card shows after a recharge or a payment; titleKey names its title.
function resultView(titleKey, yuan, newBalanceText) {
  return { text: i18n.t('recharge.result', { title: i18n.t(titleKey), amount: yuan }), amountText: yuan, newBalanceText }
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

Component({
  data: {
    id: '',
    s: {},
    balanceText: '--',
    amount: '',
    quickAmounts: ['50', '100', '200', '500'],
    error: '',
    notice: '',
    staff: false,
    submitting: false,
    result: null
  },

  lifetimes: {
    attached() {
      this.setData({ s: i18n.section('recharge') })
    }
  },

  methods: {
    onLoad(options) {
      const id = decodeURIComponent((options && options.id) || '')
      this.deviceId = id
      this.attempt = null
      this.pollMs = PAID_POLL_MS
      const staff = api.isStaff(api.getUser())
      this.setData({ id, staff })
      i18n.setTitle(i18n.t('recharge.title'))
      return api.getDevice(id).then(d => {
        this.setData({ balanceText: format.formatMoney(d.balance) })
      }, err => {
        this.setData({ error: err.message })
      })
    },

    onAmountInput(e) {
      this.setData({ amount: e.detail.value, error: '' })
    },

    onQuick(e) {
      this.setData({ amount: String(e.currentTarget.dataset.amount), error: '' })
    },

    confirm(yuan) {
      return new Promise(resolve => {
        wx.showModal({
          title: i18n.t(this.data.staff ? 'recharge.counterConfirmTitle' : 'recharge.payConfirmTitle'),
          content: i18n.t(this.data.staff ? 'recharge.counterConfirm' : 'recharge.payConfirm', { id: this.deviceId, amount: yuan }),
          success: res => resolve(!!res.confirm),
          fail: () => resolve(false)
        })
      })
    },

    onSubmit() {
      if (this.data.submitting) return Promise.resolve()
      const parsed = format.parseAmount(this.data.amount)
      if (!parsed.ok) {
        this.setData({ error: parsed.message })
        return Promise.resolve()
      }
      return this.data.staff ? this.counterRecharge(parsed.yuan) : this.pay(parsed.yuan)
    },

    counterRecharge(yuan) {
      // A new attempt gets a new key; retrying an attempt whose outcome is unknown (network
      // failure, timeout, 5xx) with the same amount sends the same key again.
      if (!this.attempt || this.attempt.yuan !== yuan) {
        this.attempt = { yuan, key: api.newIdempotencyKey() }
      }
      const attempt = this.attempt
      return this.confirm(attempt.yuan).then(ok => {
        if (!ok) return null
        this.setData({ submitting: true, error: '', result: null })
        return api.recharge(this.deviceId, attempt.yuan, attempt.key).then(res => {
          this.attempt = null
          const newBalanceText = format.formatMoney(res.new_balance)
          this.setData({
            submitting: false,
            amount: '',
            balanceText: newBalanceText,
            result: resultView('recharge.counterDone', attempt.yuan, newBalanceText)
          })
          wx.showToast({ title: i18n.t('recharge.counterDone'), icon: 'success' })
          return res
        }, err => {
          if (!err.retryable) this.attempt = null
          this.setData({
            submitting: false,
            error: err.retryable ? i18n.t('recharge.retry', { message: err.message }) : err.message
          })
          return null
        })
      })
    },

    // Each payment is an order of its own: a retry places a new order (an unpaid one expires).
    pay(yuan) {
      return this.confirm(yuan).then(ok => {
        if (!ok) return null
        this.setData({ submitting: true, error: '', notice: '', result: null })
        let order = null
        return api.createPayment(this.deviceId, yuan)
          .then(o => {
            order = o
            return api.requestPayment(o.pay_params)
          })
          .then(() => this.waitPaid(order.out_trade_no))
          .then(paid => {
            if (!paid) {
              this.setData({
                submitting: false,
                amount: '',
                notice: i18n.t('recharge.payLate')
              })
              return null
            }
            return api.getDevice(this.deviceId).then(d => {
              const newBalanceText = format.formatMoney(d.balance)
              this.setData({
                submitting: false,
                amount: '',
                balanceText: newBalanceText,
                result: resultView('recharge.payDone', yuan, newBalanceText)
              })
              wx.showToast({ title: i18n.t('recharge.payDone'), icon: 'success' })
              return order
            })
          }, err => {
            let message = err && err.message
            if (err && err.errMsg !== undefined) {
              message = err.cancelled ? i18n.t('recharge.payCancelled') : i18n.t('recharge.payIncomplete', { detail: err.errMsg })
            }
            this.setData({ submitting: false, error: message || i18n.t('recharge.payFailed') })
            return null
          })
      })
    },

    // true once the server has the payment (state paid), false when it has not yet.
    waitPaid(outTradeNo) {
      const poll = n => api.getPayment(this.deviceId, outTradeNo).then(p => {
        if (p.state === 'paid') return true
        if (p.state !== 'created' || n + 1 >= PAID_POLLS) return false
        return sleep(this.pollMs).then(() => poll(n + 1))
      }, err => {
        if (!err.retryable || n + 1 >= PAID_POLLS) return false
        return sleep(this.pollMs).then(() => poll(n + 1))
      })
      return poll(0)
    }
  }
})
