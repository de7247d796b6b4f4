// 小程序配置。/ Settings of the mini program.
//
// apiBaseUrl: meter-server 的地址（不带结尾的 /）。真机和体验版必须是 HTTPS 域名，并在
// 小程序管理后台「开发管理 → 开发设置 → 服务器域名 → request 合法域名」中登记；
// 在开发者工具里调试本机服务器时，可勾选「不校验合法域名」后填 http://127.0.0.1:8080。
// apiBaseUrl: where meter-server answers (no trailing slash). Real phones need HTTPS on a
// domain registered in the mini program console; in DevTools a local http:// address works
// once domain checking is switched off for the project.
module.exports = {
  apiBaseUrl: 'https://meter.example.com',
  // wx.request 超时（毫秒）/ request timeout in ms
  requestTimeoutMs: 10000,
  // 告警实时推送连接的超时（毫秒），到时自动重连 / how long the live alarm stream's request may
  // stay open before it is made again (the server sends a comment every 15 s meanwhile)
  alarmStreamTimeoutMs: 3600000,
  // 设备详情页实时数据刷新间隔（秒）/ refresh period of the live values on the device page
  refreshSeconds: 5,
  // 余额低于此值（元）时标红 / balance (yuan) below which the device pages show it in red
  lowBalanceYuan: 50,
  // 是否显示「微信登录」与「绑定微信」/ show the WeChat login and binding buttons
  wechatLogin: true
}
