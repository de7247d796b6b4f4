/*
 * wxmsg: the body of a WeChat subscribe message about an alarm (WeChat's
 * subscribeMessage.send), pure. A subscribe message fills a template the
 * mini program's owner picked in WeChat's console; its fields are named by
 * type and number ("thing1", "time3") and each type has WeChat's rules
 * (thing: at most 20 characters; character_string and number: at most 32,
 * ASCII; time: "YYYY-MM-DD HH:MM"). Which of our values goes in which field
 * is configuration (alarm_wechat_fields), parsed here:
 *
 *   thing1=device,thing2=title,time3=time,thing4=detail
 *
 * Sources: device, kind, title, severity, value, limit, detail ("250.3V >
 * 235.4V"), time (raised at, in the site's zone), site, state.
 */
#ifndef SMARTMETER_ALARM_WXMSG_H
#define SMARTMETER_ALARM_WXMSG_H

#include <stddef.h>

#include "dynbuf.h"
#include "store.h"

#define WXMSG_FIELDS_MAX     10
#define WXMSG_KEY_MAX        32
#define WXMSG_ERR_LEN        160
#define WXMSG_DEFAULT_FIELDS "thing1=device,thing2=title,time3=time,thing4=detail"

enum wxmsg_source {
    WXS_DEVICE,
    WXS_KIND,
    WXS_TITLE,
    WXS_SEVERITY,
    WXS_VALUE,
    WXS_LIMIT,
    WXS_DETAIL,
    WXS_TIME,
    WXS_SITE,
    WXS_STATE,
    WXS__COUNT
};

enum wxmsg_type { WXT_THING, WXT_CHARACTER_STRING, WXT_NUMBER, WXT_TIME, WXT_DATE };

struct wxmsg_fields {
    size_t n;
    struct {
        char key[WXMSG_KEY_MAX + 1];
        enum wxmsg_type type;
        enum wxmsg_source source;
    } f[WXMSG_FIELDS_MAX];
};

/*
 * Parses text (len bytes, need not be NUL-terminated) as "key=source,...":
 * keys a WeChat type (thing, character_string, number, time, date) and 1..2
 * digits, each once; at most WXMSG_FIELDS_MAX. 0, or -EINVAL with err naming
 * the bad part.
 */
int wxmsg_fields_parse(const char *text, size_t len, struct wxmsg_fields *ret,
                       char err[WXMSG_ERR_LEN]);

struct wxmsg_target {
    const char *openid;
    const char *template_id;
    const char *page;  /* the mini program's page; "?id=<alarm id>" is added */
    const char *state; /* miniprogram_state: "formal", "trial" or "developer" */
};

/*
 * Writes the body of subscribeMessage.send for alarm a to t into out (JSON):
 * touser, template_id, page, miniprogram_state, lang, data with each field's
 * value cut to its type's rules. 0, or -E2BIG/-ENOMEM.
 */
int wxmsg_body(const struct wxmsg_fields *f, const struct wxmsg_target *t,
               const struct alarm_rec *a, struct dynbuf *out);

#endif
