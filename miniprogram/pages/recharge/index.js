// 充值页：金额校验（最多两位小数）、每次充值一个 Idempotency-Key（重试时沿用），显示新余额。
// 在线支付开通前，服务器只允许运营人员和管理员充值，普通用户会得到 403 并看到提示。
// Recharge page: the amount is checked before sending; one Idempotency-Key per attempt,
// reused when the same attempt is retried, so a retry never credits twice.
const api = require('../../utils/api.js')
const format = require('../../utils/format.js')

Component({
  data: {
    id: '',
    balanceText: '--',
    amount: '',
    quickAmounts: ['50', '100', '200', '500'],
    error: '',
    notice: '',
    submitting: false,
    result: null
  },

  methods: {
    onLoad(options) {
      const id = decodeURIComponent((options && options.id) || '')
      this.deviceId = id
      this.attempt = null
      const user = api.getUser()
      this.setData({
        id,
        notice: user && !api.isStaff(user) ? '在线支付开通前，充值需由物业或运营人员办理。' : ''
      })
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
          title: '确认充值',
          content: '为电表 ' + this.deviceId + ' 充值 ¥' + yuan + '？',
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
      // A new attempt gets a new key; retrying an attempt whose outcome is unknown (network
      // failure, timeout, 5xx) with the same amount sends the same key again.
      if (!this.attempt || this.attempt.yuan !== parsed.yuan) {
        this.attempt = { yuan: parsed.yuan, key: api.newIdempotencyKey() }
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
            result: { amountText: attempt.yuan, newBalanceText }
          })
          wx.showToast({ title: '充值成功', icon: 'success' })
          return res
        }, err => {
          if (!err.retryable) this.attempt = null
          this.setData({
            submitting: false,
            error: err.retryable ? err.message + '（可直接重试，不会重复充值）' : err.message
          })
          return null
        })
      })
    }
  }
})
