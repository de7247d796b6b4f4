// 小程序入口。页面自己判断登录状态（见 pages/login 与 utils/api.js）。
// Entry point. Pages check the session themselves (pages/login, utils/api.js).
App({
  onLaunch() {
    if (typeof wx.getUpdateManager === 'function') {
      const updater = wx.getUpdateManager()
      updater.onUpdateReady(() => {
        wx.showModal({
          title: '发现新版本',
          content: '新版本已经准备好，是否重启小程序？',
          success(res) {
            if (res.confirm) updater.applyUpdate()
          }
        })
      })
    }
  }
})
