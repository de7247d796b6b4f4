// 我的：账号信息、界面语言、绑定 / 解除绑定微信、退出登录。
// Account: who am I, the interface language, bind or unbind WeChat, log out.
const api = require('../../utils/api.js')
const config = require('../../config.js')
const i18n = require('../../utils/i18n.js')

const ROLES = ['admin', 'operator', 'user']

function roleText(role) {
  return ROLES.indexOf(role) >= 0 ? i18n.t('me.role_' + role) : role
}

Component({
  data: {
    s: {},
    username: '',
    role: '',
    roleText: '',
    error: '',
    message: '',
    binding: false,
    // null until GET /api/me answers; then whether a WeChat user logs into this account
    wechatBound: null,
    wechatEnabled: !!config.wechatLogin,
    server: config.apiBaseUrl,
    // the choices of the language switch, and the one picked ('' follows the phone)
    languages: [],
    languagePick: ''
  },

  lifetimes: {
    attached() {
      this.setStrings()
    }
  },

  methods: {
    onShow() {
      this.setStrings()
      const u = api.getUser()
      if (u) this.setData({ username: u.username, role: u.role, roleText: roleText(u.role) })
      return api.me().then(m => {
        this.setData({
          username: m.username,
          role: m.role,
          roleText: roleText(m.role),
          wechatBound: typeof m.wechat_bound === 'boolean' ? m.wechat_bound : null,
          error: ''
        })
      }, err => {
        this.setData({ error: err.message })
      })
    },

    // Everything on this page, the title and the tab bar, in the current language.
    setStrings() {
      this.setData({
        s: i18n.section('me'),
        roleText: this.data.role ? roleText(this.data.role) : '',
        languages: i18n.choices(),
        languagePick: i18n.preference()
      })
      i18n.setTitle(i18n.t('me.title'))
      i18n.applyTabBar()
    },

    // Kept in wx storage: the next start, and every page from now on, use it.
    onLanguage(e) {
      const lang = e.currentTarget.dataset.lang
      if (lang === i18n.preference() || !i18n.setLanguage(lang)) return
      // A message already shown is in the old language.
      this.setData({ message: '', error: '' })
      this.setStrings()
    },

    onBindWechat() {
      if (this.data.binding) return Promise.resolve()
      this.setData({ binding: true, error: '', message: '' })
      return api.bindWechat().then(() => {
        this.setData({ binding: false, wechatBound: true, message: i18n.t('me.bindDone') })
      }, err => {
        this.setData({ binding: false, error: err.message })
      })
    },

    // Asks first: after unbinding, this WeChat user can no longer log in without a password.
    onUnbindWechat() {
      if (this.data.binding) return Promise.resolve()
      return new Promise(resolve => {
        wx.showModal({
          title: i18n.t('me.unbindTitle'),
          content: i18n.t('me.unbindConfirm'),
          success: res => resolve(!!res.confirm),
          fail: () => resolve(false)
        })
      }).then(confirmed => {
        if (!confirmed) return undefined
        this.setData({ binding: true, error: '', message: '' })
        return api.unbindWechat().then(() => {
          this.setData({ binding: false, wechatBound: false, message: i18n.t('me.unbindDone') })
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
