#include "commands.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "dynbuf.h"
#include "log.h"
#include "money.h"
#include "operations.h"
#include "sign.h"
#include "sitetime.h"
#include "timeutil.h"
#include "topic.h"
#include "wallclock.h"

int commands_new_id(char ret[33])
{
    unsigned char raw[16];
    size_t got = 0;
    while (got < sizeof(raw)) {
        ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        got += (size_t)n;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t k = 0; k < sizeof(raw); k++) {
        ret[2 * k] = hex[raw[k] >> 4];
        ret[2 * k + 1] = hex[raw[k] & 15];
    }
    ret[32] = '\0';
    return 0;
}

int commands_relay_request(struct store *st, const char *device_id, bool on, const char *actor,
                           const char *reason, int64_t now_ms, int64_t ttl_ms,
                           char ret_id[STORE_COMMAND_ID_MAX + 1])
{
    struct command_rec c = {.relay_on = on, .created_ms = now_ms};
    if (ttl_ms <= 0 || now_ms > INT64_MAX - ttl_ms)
        return -EINVAL;
    c.expires_ms = now_ms + ttl_ms;
    int r = commands_new_id(c.id);
    if (r)
        return r;
    snprintf(c.device_id, sizeof(c.device_id), "%s", device_id);
    snprintf(c.kind, sizeof(c.kind), "relay");
    snprintf(c.actor, sizeof(c.actor), "%s", actor);
    snprintf(c.reason, sizeof(c.reason), "%s", reason);
    r = store_command_add(st, &c);
    if (!r)
        memcpy(ret_id, c.id, sizeof(c.id));
    return r;
}

int commands_capture_request(struct store *st, const char *device_id, const char *request_id,
                             int32_t duration_ms, const char *actor, int64_t now_ms, int64_t ttl_ms)
{
    struct command_rec c = {.duration_ms = duration_ms, .created_ms = now_ms};
    if (ttl_ms <= 0 || now_ms > INT64_MAX - ttl_ms || strlen(request_id) > STORE_COMMAND_ID_MAX)
        return -EINVAL;
    c.expires_ms = now_ms + ttl_ms;
    snprintf(c.id, sizeof(c.id), "%s", request_id);
    snprintf(c.device_id, sizeof(c.device_id), "%s", device_id);
    snprintf(c.kind, sizeof(c.kind), "capture");
    snprintf(c.actor, sizeof(c.actor), "%s", actor);
    snprintf(c.reason, sizeof(c.reason), "a %d ms waveform capture", (int)duration_ms);
    return store_command_add(st, &c);
}

int commands_capture_done(struct store *st, const char *request_id, bool ok, const char *message,
                          int64_t now_ms)
{
    unsigned open = CMD_BIT(CMD_QUEUED) | CMD_BIT(CMD_SENT) | CMD_BIT(CMD_ACKNOWLEDGED);
    int r = store_command_move(st, request_id, open, ok ? CMD_DONE : CMD_FAILED, now_ms,
                               ok ? NULL : message);
    return r == -ENOENT ? 0 : r;
}

struct send_ctx {
    struct store *st;
    const struct commands_publisher *pub;
    int64_t now_ms;
    size_t sent;
};

/* Signs and publishes one due command, then records the send. */
static int send_one(const struct command_rec *c, void *arg)
{
    struct send_ctx *s = arg;
    struct device_rec dev;
    char topic[TOPIC_MAX];
    struct command cmd;
    struct sign_key key;
    struct dynbuf payload;
    int r = store_device_by_name(s->st, c->device_id, &dev);
    if (r == -ENOENT) /* deleted since: nobody will answer */
        return store_command_move(s->st, c->id, CMD_BIT(CMD_QUEUED) | CMD_BIT(CMD_SENT), CMD_FAILED,
                                  s->now_ms, "the device was deleted");
    if (r)
        return r;
    dynbuf_init(&payload, COMMAND_PAYLOAD_MAX);
    bool capture = strcmp(c->kind, "capture") == 0;
    enum command_kind op = operations_kind(c->kind); /* a remote operation, or none */
    r = topic_build(topic, dev.device_id, TOPIC_CMD);
    if (!r && !(r = command_init(&cmd,
                                 op != COMMAND_INVALID ? op
                                 : capture             ? COMMAND_CAPTURE
                                                       : COMMAND_RELAY,
                                 c->id, s->now_ms))) {
        cmd.relay_on = c->relay_on;
        cmd.duration_ms = capture ? (uint32_t)c->duration_ms : 0;
        cmd.interval_ms = op == COMMAND_SET_INTERVAL ? (uint32_t)c->interval_ms : 0;
        cmd.server_ms = s->now_ms; /* sync_clock: the server's clock at this very send */
        r = command_encode(&cmd, &payload);
    }
    if (!r && !(r = sign_key_from_hex(dev.secret_hash, &key))) {
        r = sign_payload(&key, topic, &payload);
        sign_key_wipe(&key);
    }
    int pr = r ? r : s->pub->publish(s->pub->ctx, topic, payload.buf, payload.len);
    dynbuf_free(&payload);
    if (pr) /* the broker is away: it stays due, and is tried on the next round */
        return 0;
    s->sent++;
    r = store_command_move(s->st, c->id, CMD_BIT(CMD_QUEUED) | CMD_BIT(CMD_SENT), CMD_SENT,
                           s->now_ms, NULL);
    return r == -ENOENT ? 0 : r; /* answered or superseded meanwhile */
}

int commands_send_due(struct store *st, const struct commands_publisher *pub, int64_t now_ms,
                      size_t *ret_sent)
{
    struct send_ctx s = {.st = st, .pub = pub, .now_ms = now_ms};
    int r = store_commands_expire(st, now_ms, NULL);
    if (!r)
        r = store_commands_due(st, now_ms, now_ms - COMMANDS_RESEND_MS, send_one, &s);
    if (ret_sent)
        *ret_sent = s.sent;
    return r;
}

int commands_on_reply(struct store *st, const char *device_id, const struct command_reply *rep,
                      int64_t now_ms)
{
    struct command_rec c;
    int r = store_command_get(st, device_id, rep->id, &c);
    if (r)
        return r;
    if (operations_kind(c.kind) != COMMAND_INVALID)
        return operations_on_reply(st, &c, rep, now_ms);
    unsigned waiting = CMD_BIT(CMD_QUEUED) | CMD_BIT(CMD_SENT);
    if (rep->ok) {
        r = store_command_move(st, c.id, waiting, CMD_ACKNOWLEDGED, now_ms, NULL);
    } else {
        char why[STORE_COMMAND_MSG_MAX + 1];
        snprintf(why, sizeof(why), "the meter refused: %.*s", (int)(sizeof(why) - 20),
                 rep->has_message ? rep->message : "no reason given");
        r = store_command_move(st, c.id, waiting, CMD_FAILED, now_ms, why);
    }
    return r == -ENOENT ? 0 : r; /* a second answer to a resend changes nothing */
}

int commands_reconcile(struct store *st, const struct device_rec *dev, int64_t now_ms)
{
    struct command_rec c;
    bool on;
    int64_t ts;
    int r = store_command_latest(st, dev->device_id, "relay", &c);
    if (!r)
        r = store_device_relay(st, dev->id, &on, &ts);
    if (r)
        return r == -ENOENT ? 0 : r;
    if (c.state == CMD_ACKNOWLEDGED && ts > c.sent_ms) {
        if (on == c.relay_on)
            r = store_command_move(st, c.id, CMD_BIT(CMD_ACKNOWLEDGED), CMD_DONE, now_ms, NULL);
        else if (ts > c.sent_ms + COMMANDS_CONFIRM_MS)
            goto resend;
        return r == -ENOENT ? 0 : r;
    }
    if (c.state == CMD_DONE && on != c.relay_on && ts > c.finished_ms)
        goto resend;
    return 0;
resend:;
    char reason[STORE_COMMAND_REASON_MAX + 1], id[STORE_COMMAND_ID_MAX + 1];
    /* The same intent under a new id (the meter acts once per id), in the name of who asked. */
    snprintf(reason, sizeof(reason), "%s: the meter reports relay %s, %s asked for %s (%s)",
             COMMANDS_ACTOR_RESEND, on ? "on" : "off", c.actor, c.relay_on ? "on" : "off", c.id);
    return commands_relay_request(st, dev->device_id, c.relay_on, c.actor, reason, now_ms,
                                  COMMANDS_TTL_MS, id);
}

/* --- the cut-off rules --------------------------------------------------------------------- */

/* What the rules remember of a device between rounds; loaded from its events on first sight, so
   a restart raises no alert twice. */
struct rule_state {
    int64_t pk;
    bool loaded;
    bool low_alerted;          /* "balance.low" raised, not yet followed by "balance.ok" */
    bool mismatch_alerted;     /* "relay.mismatch" raised, not yet followed by "relay.ok" */
    int64_t mismatch_since_ms; /* 0: the readings agree with the intent */
};

struct commands_rules {
    struct rule_state *d; /* by pk, ascending */
    size_t n, cap;
};

int commands_rules_new(struct commands_rules **ret)
{
    *ret = calloc(1, sizeof(**ret));
    return *ret ? 0 : -ENOMEM;
}

void commands_rules_free(struct commands_rules *r)
{
    if (!r)
        return;
    free(r->d);
    free(r);
}

/* pk's state, added when new. NULL: out of memory. */
static struct rule_state *rules_state(struct commands_rules *r, int64_t pk)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->d[mid].pk < pk)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < r->n && r->d[lo].pk == pk)
        return &r->d[lo];
    if (r->n == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 64;
        struct rule_state *p = realloc(r->d, cap * sizeof(*p));
        if (!p)
            return NULL;
        r->d = p;
        r->cap = cap;
    }
    memmove(&r->d[lo + 1], &r->d[lo], (r->n - lo) * sizeof(*r->d));
    r->n++;
    r->d[lo] = (struct rule_state){.pk = pk};
    return &r->d[lo];
}

static int latest_kind(const struct device_event *e, void *ctx)
{
    snprintf(ctx, STORE_EVENT_KIND_MAX + 1, "%s", e->kind);
    return 0;
}

/* Whether the newest event of the family (kind prefix) is raised_kind. */
static int raised(struct store *st, const char *device_id, const char *family,
                  const char *raised_kind, bool *ret)
{
    char kind[STORE_EVENT_KIND_MAX + 1] = "";
    int r = store_device_events(st, device_id, family, 1, latest_kind, kind);
    if (!r)
        *ret = strcmp(kind, raised_kind) == 0;
    return r;
}

static int rules_load(struct store *st, const struct device_rec *d, struct rule_state *rs)
{
    int r = raised(st, d->device_id, "balance.", COMMANDS_EVENT_LOW, &rs->low_alerted);
    if (!r)
        r = raised(st, d->device_id, "relay.", COMMANDS_EVENT_MISMATCH, &rs->mismatch_alerted);
    rs->loaded = r == 0;
    return r;
}

/* The low-balance alert: raised once per crossing, cleared (an event too) above the margin. */
static int rules_low_balance(struct store *st, const struct cutoff_settings *cs,
                             const struct device_rec *d, struct rule_state *rs, int64_t now_ms)
{
    char money[MONEY_TEXT_LEN], low[MONEY_TEXT_LEN], detail[128];
    bool was = rs->low_alerted, alerted = was;
    bool raise = cutoff_low_alert(cs, d->balance_fen, &alerted);
    if (!raise && !(was && !alerted))
        return 0;
    money_format(d->balance_fen, money);
    money_format(cs->low_balance_fen, low);
    if (raise)
        snprintf(detail, sizeof(detail), "balance %s at or below %s", money, low);
    else
        snprintf(detail, sizeof(detail), "balance %s back above %s", money, low);
    int r = store_device_event_add(st, d->device_id, now_ms,
                                   raise ? COMMANDS_EVENT_LOW : COMMANDS_EVENT_LOW_CLEARED, detail);
    if (!r)
        rs->low_alerted = alerted;
    return r;
}

/* The relay as the readings report it against the intent: a contradiction that outlasts
   COMMANDS_MISMATCH_ALERT_MS while the device is online is an alert (resends go on meanwhile). */
static int rules_relay_mismatch(struct store *st, const struct device_rec *d, struct rule_state *rs,
                                int64_t now_ms)
{
    struct command_rec c;
    bool on;
    int64_t ts;
    int r = store_command_latest(st, d->device_id, "relay", &c);
    if (!r)
        r = store_device_relay(st, d->id, &on, &ts);
    if (r && r != -ENOENT)
        return r;
    bool mismatch = !r && on != c.relay_on && d->status == DEVICE_STATUS_ONLINE;
    if (!mismatch) {
        rs->mismatch_since_ms = 0;
        if (!rs->mismatch_alerted || r)
            return 0;
        r = store_device_event_add(st, d->device_id, now_ms, COMMANDS_EVENT_MISMATCH_CLEARED,
                                   on ? "the meter reports relay on, as asked"
                                      : "the meter reports relay off, as asked");
        if (!r)
            rs->mismatch_alerted = false;
        return r;
    }
    if (!rs->mismatch_since_ms)
        rs->mismatch_since_ms = now_ms;
    if (rs->mismatch_alerted || now_ms - rs->mismatch_since_ms < COMMANDS_MISMATCH_ALERT_MS)
        return 0;
    char detail[STORE_EVENT_DETAIL_MAX + 1];
    snprintf(detail, sizeof(detail), "the meter reports relay %s for %lld s; %.64s asked for %s",
             on ? "on" : "off", (long long)((now_ms - rs->mismatch_since_ms) / 1000), c.actor,
             c.relay_on ? "on" : "off");
    r = store_device_event_add(st, d->device_id, now_ms, COMMANDS_EVENT_MISMATCH, detail);
    if (!r)
        rs->mismatch_alerted = true;
    return r;
}

struct dev_array {
    struct device_rec *d;
    size_t n;
};

/* The rules for one device. */
static int rules_device(struct store *st, const struct cutoff_settings_source *settings,
                        struct commands_rules *rules, const struct device_rec *d, int64_t now_ms,
                        const struct cutoff_clock *clock)
{
    struct rule_state *rs = rules_state(rules, d->id);
    if (!rs)
        return -ENOMEM;
    int r = rs->loaded ? 0 : rules_load(st, d, rs);
    if (!r)
        r = rules_relay_mismatch(st, d, rs, now_ms);
    if (r)
        return r;
    struct cutoff_settings cs;
    if (settings->get(settings->ctx, st, d->id, &cs))
        return 0; /* no settings this round: left alone */
    if ((r = rules_low_balance(st, &cs, d, rs, now_ms)) != 0)
        return r;

    struct command_rec intent;
    r = store_command_latest(st, d->device_id, "relay", &intent);
    if (r && r != -ENOENT)
        return r;
    bool on = r == -ENOENT || intent.relay_on;
    enum cutoff_action a = cutoff_decide(&cs, d->balance_fen, on, clock);
    if (a == CUTOFF_KEEP)
        return 0;
    /* Only a cut-off the rules made is lifted by them: an operator's "off" stays. */
    if (a == CUTOFF_SWITCH_ON && strcmp(intent.actor, COMMANDS_ACTOR_CUTOFF) != 0)
        return 0;
    char money[MONEY_TEXT_LEN], level[MONEY_TEXT_LEN], reason[STORE_COMMAND_REASON_MAX + 1];
    char id[STORE_COMMAND_ID_MAX + 1];
    money_format(d->balance_fen, money);
    money_format(cs.cutoff_at_fen, level);
    if (a == CUTOFF_SWITCH_OFF)
        snprintf(reason, sizeof(reason), "balance %s at or below the cut-off level %s", money,
                 level);
    else
        snprintf(reason, sizeof(reason), "balance %s above the cut-off level %s after a recharge",
                 money, level);
    return commands_relay_request(st, d->device_id, a == CUTOFF_SWITCH_ON, COMMANDS_ACTOR_CUTOFF,
                                  reason, now_ms, COMMANDS_TTL_MS, id);
}

int commands_clock_at(struct store *st, int64_t now_ms, struct cutoff_clock *ret)
{
    char day[11];
    int kind = 0;
    sitetime_format_day(now_ms, day);
    int r = store_calendar_day(st, day, &kind);
    if (r)
        return r;
    *ret =
        cutoff_clock_make((int)(wallclock_time_of_day_ms(now_ms) / 60000), sitetime_weekday(now_ms),
                          kind == CALENDAR_HOLIDAY   ? CUTOFF_DAY_HOLIDAY
                          : kind == CALENDAR_WORKDAY ? CUTOFF_DAY_WORKDAY
                                                     : CUTOFF_DAY_PLAIN);
    return 0;
}

int commands_cutoff_round(struct store *st, const struct cutoff_settings_source *settings,
                          struct commands_rules *rules, int64_t now_ms)
{
    struct cutoff_clock clock;
    int r = commands_clock_at(st, now_ms, &clock);
    if (r)
        return r;
    struct dev_array a = {0};
    r = store_device_array(st, 0, SIZE_MAX, &a.d, &a.n);
    /* Only a device with a command (the relay's intent) or money on its ledger or settings of
       its own has anything for the rules to do: the others cost no query each. */
    int64_t *cmd = NULL, *money = NULL;
    size_t n_cmd = 0, n_money = 0;
    if (!r)
        r = store_devices_having(st, DEVICES_HAVING_COMMANDS, &cmd, &n_cmd);
    if (!r)
        r = store_devices_having(st, DEVICES_HAVING_MONEY, &money, &n_money);
    int first = r;
    for (size_t k = 0; !r && k < a.n; k++) {
        if (!device_pks_have(cmd, n_cmd, a.d[k].id) && !device_pks_have(money, n_money, a.d[k].id))
            continue;
        int e = rules_device(st, settings, rules, &a.d[k], now_ms, &clock);
        if (!e)
            e = commands_reconcile(st, &a.d[k], now_ms);
        if (e && !first)
            first = e;
        if (e == -ENOTCONN)
            break;
    }
    free(a.d);
    free(cmd);
    free(money);
    return first;
}

/* --- the thread ---------------------------------------------------------------------------- */

struct commands_service {
    struct store_source db;
    struct commands_publisher pub;
    const struct cutoff_settings_source *settings;
    struct commands_rules *rules;
    struct store *st;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool wake_now; /* commands_wake(): send now */
};

static bool nap(struct commands_service *s, int64_t ms)
{
    struct timespec until = time_mono_deadline(ms);
    pthread_mutex_lock(&s->lock);
    while (!s->stop && !s->wake_now &&
           pthread_cond_timedwait(&s->wake, &s->lock, &until) != ETIMEDOUT)
        ;
    s->wake_now = false;
    bool go_on = !s->stop;
    pthread_mutex_unlock(&s->lock);
    return go_on;
}

static void tick(struct commands_service *s, int64_t *last_error_ms, unsigned n)
{
    char err[STORE_ERR_LEN];
    int64_t now = time_now_ms();
    if (!s->st && store_source_open(&s->db, &s->st, err)) {
        if (now - *last_error_ms >= 60000) {
            log_warn("commands: cannot open the database: %s", err);
            *last_error_ms = now;
        }
        return;
    }
    /* The rules read every device: each COMMANDS_RULES_EVERY ticks; sends every tick. */
    int r = n % COMMANDS_RULES_EVERY == 0 ? commands_cutoff_round(s->st, s->settings, s->rules, now)
                                          : 0;
    size_t sent = 0;
    if (r != -ENOTCONN) {
        int r2 = commands_send_due(s->st, &s->pub, now, &sent);
        r = r ? r : r2;
    }
    if (sent)
        log_info("commands: %zu sent", sent);
    if (r && now - *last_error_ms >= 60000) {
        log_warn("commands: %s", store_errmsg(s->st));
        *last_error_ms = now;
    }
    if (r == -ENOTCONN) {
        store_close(s->st);
        s->st = NULL;
    }
}

static void *commands_main(void *arg)
{
    struct commands_service *s = arg;
    int64_t last_error_ms = INT64_MIN / 2;
    unsigned n = 0;
    do
        tick(s, &last_error_ms, n++);
    while (nap(s, COMMANDS_TICK_MS));
    store_close(s->st);
    return NULL;
}

int commands_start(const struct commands_options *o, struct commands_service **ret, char *err,
                   size_t errlen)
{
    if (!o->pub.publish) {
        snprintf(err, errlen, "commands: no publisher");
        return -EINVAL;
    }
    struct commands_service *s = calloc(1, sizeof(*s));
    int rc = s ? store_source_copy(&s->db, &o->db) : -ENOMEM;
    if (!rc)
        rc = commands_rules_new(&s->rules);
    if (rc) {
        if (s) {
            store_source_clear(&s->db);
            free(s);
        }
        snprintf(err, errlen, "commands: %s", rc == -ENOMEM ? "out of memory" : "bad options");
        return rc;
    }
    s->pub = o->pub;
    s->settings = o->settings ? o->settings : &cutoff_settings_defaults;
    time_cond_init_monotonic(&s->wake);
    pthread_mutex_init(&s->lock, NULL);
    rc = pthread_create(&s->thread, NULL, commands_main, s);
    if (rc) {
        snprintf(err, errlen, "commands: cannot start its thread: %s", strerror(rc));
        pthread_cond_destroy(&s->wake);
        pthread_mutex_destroy(&s->lock);
        commands_rules_free(s->rules);
        store_source_clear(&s->db);
        free(s);
        return -rc;
    }
    *ret = s;
    return 0;
}

void commands_wake(struct commands_service *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->wake_now = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
}

void commands_stop(struct commands_service *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stop = true;
    pthread_cond_broadcast(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    commands_rules_free(s->rules);
    store_source_clear(&s->db);
    free(s);
}
