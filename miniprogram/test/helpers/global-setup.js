// Times are shown in local time; pin the zone the tests expect (China Standard Time, no DST)
// before jest starts its workers, which inherit it.
module.exports = () => {
  process.env.TZ = 'Asia/Shanghai'
}
