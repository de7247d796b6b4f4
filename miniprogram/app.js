// 小程序入口。页面自己判断登录状态（见 pages/login 与 utils/api.js）。
// Entry point. Pages check the session themselves (pages/login, utils/api.js).
const i18n = require('./utils/i18n.js')

App({
  onLaunch() {
    if (typeof wx.getUpdateManager === 'function') {
      const updater = wx.getUpdateManager()
      updater.onUpdateReady(() => {
        wx.showModal({
          title: i18n.t('app.updateTitle'),
          content: i18n.t('app.updateContent'),
          success(res) {
            if (res.confirm) updater.applyUpdate()
          }
        })
      })
    }
  },

  // Back from the background: the phone's language may have changed meanwhile.
  onShow() {
    i18n.refresh()
  }
})
