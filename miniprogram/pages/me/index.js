// 我的：账号信息、绑定微信、退出登录。/ Account: who am I, bind WeChat, log out.
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
    wechatEnabled: !!config.wechatLogin,
    server: config.apiBaseUrl
  },

  methods: {
    onShow() {
      const u = api.getUser()
      if (u) this.setData({ username: u.username, roleText: ROLE_TEXT[u.role] || u.role })
      return api.me().then(m => {
        this.setData({ username: m.username, roleText: ROLE_TEXT[m.role] || m.role, error: '' })
      }, err => {
        this.setData({ error: err.message })
      })
    },

    onBindWechat() {
      if (this.data.binding) return Promise.resolve()
      this.setData({ binding: true, error: '', message: '' })
      return api.bindWechat().then(() => {
        this.setData({ binding: false, message: '微信绑定成功，下次可直接微信一键登录' })
      }, err => {
        this.setData({ binding: false, error: err.message })
      })
    },

    onLogout() {
      api.clearSession()
      wx.reLaunch({ url: api.LOGIN_PAGE })
    }
  }
})
