// 登录页：用户名密码登录，或微信登录（wx.login → 服务器换取 openid → 我们自己的 JWT）。
// Login page: username and password, or WeChat (wx.login → our server → our own JWT).
const api = require('../../utils/api.js')
const config = require('../../config.js')
const i18n = require('../../utils/i18n.js')

const HOME = '/pages/devices/index'

Component({
  data: {
    username: '',
    password: '',
    error: '',
    loading: false,
    s: {},
    wechatEnabled: !!config.wechatLogin
  },

  lifetimes: {
    attached() {
      this.setData({ s: i18n.section('login') })
    }
  },

  methods: {
    onLoad() {
      i18n.setTitle(i18n.t('login.title'))
      // Already logged in (token kept in storage): straight to the device list.
      if (api.getToken()) wx.switchTab({ url: HOME })
    },

    onUsernameInput(e) {
      this.setData({ username: e.detail.value, error: '' })
    },

    onPasswordInput(e) {
      this.setData({ password: e.detail.value, error: '' })
    },

    onSubmit() {
      if (this.data.loading) return Promise.resolve()
      const username = this.data.username.trim()
      const password = this.data.password
      if (!username || !password) {
        this.setData({ error: i18n.t('login.missing') })
        return Promise.resolve()
      }
      return this.finish(api.login(username, password))
    },

    onWechatLogin() {
      if (this.data.loading) return Promise.resolve()
      return this.finish(api.loginWithWechat())
    },

    finish(promise) {
      this.setData({ loading: true, error: '' })
      return promise.then(user => {
        this.setData({ loading: false, password: '' })
        wx.showToast({ title: i18n.t('login.success'), icon: 'success' })
        wx.switchTab({ url: HOME })
        return user
      }, err => {
        this.setData({ loading: false, error: err.message || i18n.t('login.failed') })
      })
    }
  }
})
