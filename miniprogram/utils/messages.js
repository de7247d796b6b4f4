// 服务器错误信息的显示文字。/ How the server's error messages are shown.
//
// The server answers errors as {"status":"error","message":"..."} in English. In Chinese,
// messages a user of the mini program can meet are shown in Chinese (the `server` table of
// lang/zh-CN.js) and any other message as the server wrote it, so nothing is ever hidden; in
// English every message is shown as the server wrote it. An answer without a message gets
// a text for its HTTP status.

const i18n = require('./i18n.js')

function byStatus(statusCode) {
  if (statusCode === 401 || statusCode === 403 || statusCode === 404 || statusCode === 429) {
    return i18n.t('http.status_' + statusCode)
  }
  if (statusCode >= 500) return i18n.t('http.unavailable', { code: statusCode })
  return i18n.t('http.failed', { code: statusCode })
}

function translate(message, statusCode) {
  if (typeof message === 'string' && message !== '') return i18n.serverMessage(message) || message
  return byStatus(statusCode)
}

module.exports = { translate }
