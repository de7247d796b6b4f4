/*
 * notify: WeChat subscribe messages about raised alarms, sent from a thread
 * of its own so that nothing waits for WeChat. The alarm service queues one
 * message per (alarm, bound user with a WeChat account); this thread gets
 * the app's access token (kept until shortly before it expires, fetched
 * again when WeChat calls it stale), builds the body (wxmsg.h) and posts it,
 * trying again with a doubling delay when WeChat is unreachable or busy, up
 * to attempts times. A user who has not subscribed (43101) or a template that
 * refuses a field (47003) is not tried again. The queue is bounded: past
 * queue_max, messages are dropped and counted.
 */
#ifndef SMARTMETER_ALARM_NOTIFY_H
#define SMARTMETER_ALARM_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "wechat.h"
#include "wxmsg.h"

struct alarm_notifier_options {
    struct wechat *wechat;      /* borrowed; outlives the notifier */
    const char *template_id;    /* copied */
    const char *page;           /* copied; default "pages/alarms/alarms" */
    const char *state;          /* copied; default "formal" */
    struct wxmsg_fields fields; /* copied */
    size_t queue_max;           /* 0: 1000 */
    int attempts;               /* 0: 5 */
    int64_t retry_ms;           /* first delay; 0: 1000 */
};

struct alarm_notifier_counters {
    uint64_t sent, failed, dropped, tokens;
};

struct alarm_notifier;
/* Starts the thread. 0, or -errno with err. */
int alarm_notifier_start(const struct alarm_notifier_options *o, struct alarm_notifier **ret,
                         char *err, size_t errlen);
/* Queues the message about a for openid (both copied). Never blocks. */
void alarm_notifier_send(struct alarm_notifier *n, const struct alarm_rec *a, const char *openid);
/* Waits until the queue is empty and nothing is in flight, at most timeout_ms: 0 or -ETIMEDOUT. */
int alarm_notifier_flush(struct alarm_notifier *n, int64_t timeout_ms);
void alarm_notifier_counters(struct alarm_notifier *n, struct alarm_notifier_counters *ret);
/* Stops (after the message in flight) and frees; queued messages are dropped. NULL is fine. */
void alarm_notifier_stop(struct alarm_notifier *n);

#endif
