// 我的：账号信息、绑定 / 解除绑定微信、退出登录。/ Account: who am I, bind or unbind WeChat, log out.
const api = require('../../utils/api.js')
const config = require('../../config.js')

const ROLE_TEXT = { admin: '管理员', operator: '运营人员', user: '用户' }

Component({
  data: {
    username: '',
    roleText: '',
    error: '',
    message: '',
    binding: false,
    // null until GET /api/me answers; then whether a WeChat user logs into this account
    wechatBound: null,
    wechatEnabled: !!config.wechatLogin,
    server: config.apiBaseUrl
  },

  methods: {
    onShow() {
      const u = api.getUser()
      if (u) this.setData({ username: u.username, roleText: ROLE_TEXT[u.role] || u.role })
      return api.me().then(m => {
        this.setData({
          username: m.username,
          roleText: ROLE_TEXT[m.role] || m.role,
          wechatBound: typeof m.wechat_bound === 'boolean' ? m.wechat_bound : null,
          error: ''
        })
      }, err => {
        this.setData({ error: err.message })
      })
    },

    onBindWechat() {
      if (this.data.binding) return Promise.resolve()
      this.setData({ binding: true, error: '', message: '' })
      return api.bindWechat().then(() => {
        this.setData({ binding: false, wechatBound: true, message: '微信绑定成功，下次可直接微信一键登录' })
      }, err => {
        this.setData({ binding: false, error: err.message })
      })
    },

    // Asks first: after unbinding, this WeChat user can no longer log in without a password.
    onUnbindWechat() {
      if (this.data.binding) return Promise.resolve()
      return new Promise(resolve => {
        wx.showModal({
          title: '解除微信绑定',
          content: '解除后将不能用微信一键登录此账号，确定解除吗？',
          success: res => resolve(!!res.confirm),
          fail: () => resolve(false)
        })
      }).then(confirmed => {
        if (!confirmed) return undefined
        this.setData({ binding: true, error: '', message: '' })
        return api.unbindWechat().then(() => {
          this.setData({ binding: false, wechatBound: false, message: '已解除微信绑定' })
        }, err => {
          this.setData({ binding: false, error: err.message })
        })
      })
    },

    onLogout() {
      api.clearSession()
      wx.reLaunch({ url: api.LOGIN_PAGE })
    }
  }
})
