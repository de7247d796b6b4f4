/* notify: the subscribe message thread (notify.h). */
#include "notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

#define TOKEN_MARGIN_MS INT64_C(300000) /* fetch a new token this long before it expires */
#define MAX_DELAY_MS    INT64_C(60000)

struct item {
    struct alarm_rec alarm;
    char openid[WECHAT_OPENID_MAX + 1];
    int tries;
    int64_t due_ms;
};

struct alarm_notifier {
    struct alarm_notifier_options o;
    char template_id[128], page[256], state[16];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    struct item *q; /* ring of o.queue_max */
    size_t head, n;
    bool busy, quit;
    char token[WECHAT_TOKEN_MAX + 1];
    int64_t token_until_ms;
    struct alarm_notifier_counters c;
};

void alarm_notifier_send(struct alarm_notifier *n, const struct alarm_rec *a, const char *openid)
{
    if (!n || !openid || !openid[0] || strlen(openid) > WECHAT_OPENID_MAX)
        return;
    pthread_mutex_lock(&n->mu);
    if (n->n == n->o.queue_max) {
        n->c.dropped++;
    } else {
        struct item *it = &n->q[(n->head + n->n) % n->o.queue_max];
        it->alarm = *a;
        snprintf(it->openid, sizeof(it->openid), "%s", openid);
        it->tries = 0;
        it->due_ms = 0;
        n->n++;
        pthread_cond_signal(&n->wake);
    }
    pthread_mutex_unlock(&n->mu);
}

enum outcome { SENT, GIVE_UP, RETRY };

/* One attempt at sending it. */
static enum outcome attempt(struct alarm_notifier *n, struct item *it)
{
    char detail[WECHAT_ERR_LEN];
    long code = 0;
    int64_t now = time_now_ms();
    if (!n->token[0] || now >= n->token_until_ms) {
        long expires_s = 0;
        enum wechat_error e = wechat_access_token(n->o.wechat, n->token, &expires_s, &code, detail);
        if (e) {
            n->token[0] = '\0';
            log_warn("alarms: cannot get a WeChat access token: %s", detail);
            return e == WECHAT_CONFIG ? GIVE_UP : RETRY; /* a wrong secret will not mend */
        }
        n->token_until_ms = now + expires_s * 1000 - TOKEN_MARGIN_MS;
        pthread_mutex_lock(&n->mu);
        n->c.tokens++;
        pthread_mutex_unlock(&n->mu);
    }
    struct dynbuf body;
    dynbuf_init(&body, 8192);
    struct wxmsg_target t = {
        .openid = it->openid, .template_id = n->template_id, .page = n->page, .state = n->state};
    if (wxmsg_body(&n->o.fields, &t, &it->alarm, &body)) {
        dynbuf_free(&body);
        return GIVE_UP;
    }
    enum wechat_error e =
        wechat_subscribe_send(n->o.wechat, n->token, dynbuf_str(&body), &code, detail);
    dynbuf_free(&body);
    if (e == WECHAT_OK)
        return SENT;
    if (code == 40001 || code == 42001 || code == 40014) {
        n->token[0] = '\0'; /* stale: the next attempt fetches another */
        return RETRY;
    }
    log_warn("alarms: subscribe message for alarm %lld not sent: %s", (long long)it->alarm.id,
             detail);
    /* Not subscribed, a field or the template refused, a bad openid: trying again cannot help. */
    return code == 43101 || code == 47003 || code == 40003 || code == 40037 ? GIVE_UP : RETRY;
}

static void *notifier_main(void *arg)
{
    struct alarm_notifier *n = arg;
    pthread_mutex_lock(&n->mu);
    while (!n->quit) {
        int64_t now = time_now_ms();
        /* The soonest due goes first (a message waiting to be tried again holds up no other). */
        for (size_t i = 1; i < n->n; i++) {
            struct item *a = &n->q[n->head], *b = &n->q[(n->head + i) % n->o.queue_max];
            if (b->due_ms < a->due_ms) {
                struct item t = *a;
                *a = *b;
                *b = t;
            }
        }
        if (!n->n || n->q[n->head].due_ms > now) {
            n->busy = false;
            pthread_cond_broadcast(&n->idle);
            if (!n->n) {
                pthread_cond_wait(&n->wake, &n->mu);
            } else {
                int64_t due = n->q[n->head].due_ms;
                struct timespec ts = {.tv_sec = due / 1000,
                                      .tv_nsec = (long)(due % 1000) * 1000000};
                pthread_cond_timedwait(&n->wake, &n->mu, &ts);
            }
            continue;
        }
        n->busy = true;
        struct item it = n->q[n->head];
        n->head = (n->head + 1) % n->o.queue_max;
        n->n--;
        pthread_mutex_unlock(&n->mu);
        enum outcome out = attempt(n, &it);
        pthread_mutex_lock(&n->mu);
        it.tries++;
        if (out == SENT)
            n->c.sent++;
        else if (out == GIVE_UP)
            n->c.failed++;
        else if (it.tries < n->o.attempts) {
            int64_t delay = n->o.retry_ms << (it.tries - 1 < 6 ? it.tries - 1 : 6);
            it.due_ms = time_now_ms() + (delay < MAX_DELAY_MS ? delay : MAX_DELAY_MS);
            if (n->n < n->o.queue_max) { /* to the back: others are not held up */
                n->q[(n->head + n->n) % n->o.queue_max] = it;
                n->n++;
            } else {
                n->c.dropped++;
            }
        } else {
            n->c.failed++;
        }
    }
    n->busy = false;
    pthread_cond_broadcast(&n->idle);
    pthread_mutex_unlock(&n->mu);
    return NULL;
}

int alarm_notifier_start(const struct alarm_notifier_options *o, struct alarm_notifier **ret,
                         char *err, size_t errlen)
{
    if (!o->wechat || !o->template_id || !o->template_id[0] || strlen(o->template_id) >= 128 ||
        (o->page && strlen(o->page) >= 200)) {
        snprintf(err, errlen,
                 "alarm notifications need WeChat login and a template id (at most "
                 "127 characters)");
        return -EINVAL;
    }
    struct alarm_notifier *n = calloc(1, sizeof(*n));
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    n->o = *o;
    if (!n->o.queue_max)
        n->o.queue_max = 1000;
    if (n->o.attempts <= 0)
        n->o.attempts = 5;
    if (n->o.retry_ms <= 0)
        n->o.retry_ms = 1000;
    snprintf(n->template_id, sizeof(n->template_id), "%s", o->template_id);
    snprintf(n->page, sizeof(n->page), "%s", o->page ? o->page : "pages/alarms/alarms");
    snprintf(n->state, sizeof(n->state), "%s", o->state ? o->state : "formal");
    n->q = calloc(n->o.queue_max, sizeof(*n->q));
    if (!n->q) {
        free(n);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    pthread_mutex_init(&n->mu, NULL);
    pthread_cond_init(&n->wake, NULL);
    pthread_cond_init(&n->idle, NULL);
    int r = pthread_create(&n->thread, NULL, notifier_main, n);
    if (r) {
        snprintf(err, errlen, "alarms: cannot start the notification thread: %s", strerror(r));
        free(n->q);
        free(n);
        return -r;
    }
    *ret = n;
    return 0;
}

int alarm_notifier_flush(struct alarm_notifier *n, int64_t timeout_ms)
{
    int64_t deadline = time_now_ms() + timeout_ms;
    int r = 0;
    pthread_mutex_lock(&n->mu);
    while (n->n || n->busy) {
        if (time_now_ms() >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        struct timespec ts = {.tv_sec = deadline / 1000,
                              .tv_nsec = (long)(deadline % 1000) * 1000000};
        pthread_cond_timedwait(&n->idle, &n->mu, &ts);
    }
    pthread_mutex_unlock(&n->mu);
    return r;
}

void alarm_notifier_counters(struct alarm_notifier *n, struct alarm_notifier_counters *ret)
{
    pthread_mutex_lock(&n->mu);
    *ret = n->c;
    pthread_mutex_unlock(&n->mu);
}

void alarm_notifier_stop(struct alarm_notifier *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->quit = true;
    pthread_cond_signal(&n->wake);
    pthread_mutex_unlock(&n->mu);
    pthread_join(n->thread, NULL);
    pthread_cond_destroy(&n->wake);
    pthread_cond_destroy(&n->idle);
    pthread_mutex_destroy(&n->mu);
    memset(n->token, 0, sizeof(n->token));
    free(n->q);
    free(n);
}
