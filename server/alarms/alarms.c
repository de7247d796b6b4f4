/*
 * alarms: the alarm service's thread (alarms.h).
 *
 * Devices are kept in an array sorted by their key, each with the state of
 * every rule. Notes from the writer go in a bounded list (a full list makes
 * the next round judge every device instead).
 */
#include "alarms.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "timeutil.h"

#define NOTED_MAX     65536
#define READINGS_MAX  512             /* judged per device per round */
#define CONFIG_TTL_MS INT64_C(30000)  /* a device's limits are read again this often */
#define BACKFILL_MS   INT64_C(600000) /* at first sight, readings this old are judged */
#define RETRY_MS      INT64_C(5000)
#define COALESCE_MS   100

struct dev {
    int64_t pk;
    char device_id[DEVICE_ID_MAX + 1];
    struct alarm_rule_state st[AK__COUNT];
    struct alarm_rule rules[AK__COUNT];
    struct alarm_device_meta meta;
    bool three_phase;
    int64_t cfg_ms;     /* when the limits were read (0: never) */
    uint64_t cfg_gen;   /* alarms_rules_changed() generation they reflect */
    int64_t last_ts_ms; /* newest reading judged: its time and seq (readings may share a ms) */
    uint64_t last_seq;
    int64_t heard_ms; /* when its newest reading arrived (0: never heard of one) */
    bool swept;       /* still in the devices table at the last sweep */
};

struct alarms_service {
    struct alarms_options o;
    struct store_source db;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake, idle;
    int64_t *noted;
    size_t n_noted;
    bool overflow, quit, busy, flushing;
    uint64_t noted_gen, done_gen;
    uint64_t cfg_gen;
    int64_t next_sweep_ms;
    int64_t first_note_ms;
    int64_t retry_at_ms; /* after a database failure, nothing is tried before this */
    struct alarms_counters c;
    /* the thread's own */
    struct store *st;
    struct dev **devs; /* sorted by pk */
    size_t n_devs, cap_devs;
};

void alarms_notify(void *ctx, int64_t device_pk)
{
    struct alarms_service *s = ctx;
    pthread_mutex_lock(&s->mu);
    if (s->n_noted == 0)
        s->first_note_ms = time_now_ms();
    if (s->n_noted < NOTED_MAX)
        s->noted[s->n_noted++] = device_pk;
    else
        s->overflow = true;
    s->noted_gen++;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
}

void alarms_rules_changed(struct alarms_service *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->cfg_gen++;
    pthread_mutex_unlock(&s->mu);
}

static void count(struct alarms_service *s, uint64_t *field, uint64_t n)
{
    pthread_mutex_lock(&s->mu);
    *field += n;
    pthread_mutex_unlock(&s->mu);
}

/* --- devices --- */

static struct dev *find_dev(struct alarms_service *s, int64_t pk, size_t *ret_pos)
{
    size_t lo = 0, hi = s->n_devs;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->devs[mid]->pk < pk)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (ret_pos)
        *ret_pos = lo;
    return lo < s->n_devs && s->devs[lo]->pk == pk ? s->devs[lo] : NULL;
}

struct first_sight {
    struct dev *d;
    int64_t newest_change_ms;
};

static int take_open(const struct alarm_rec *a, void *ctx)
{
    struct first_sight *f = ctx;
    int64_t t = a->cleared_ms > a->raised_ms ? a->cleared_ms : a->raised_ms;
    if (t > f->newest_change_ms)
        f->newest_change_ms = t;
    int k = alarm_kind_parse(a->kind);
    if (k >= 0 && a->state != ALARM_CLEARED) {
        f->d->st[k].phase = AP_ACTIVE;
        f->d->st[k].value = a->value;
    }
    return 0;
}

/* A device seen for the first time in this process: its state from its alarms. */
static int add_dev(struct alarms_service *s, const struct device_rec *rec, int64_t now,
                   struct dev **ret)
{
    size_t pos;
    if (find_dev(s, rec->id, &pos)) {
        *ret = s->devs[pos];
        return 0;
    }
    if (s->n_devs == s->cap_devs) {
        size_t cap = s->cap_devs ? s->cap_devs * 2 : 64;
        struct dev **p = realloc(s->devs, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        s->devs = p;
        s->cap_devs = cap;
    }
    struct dev *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->pk = rec->id;
    snprintf(d->device_id, sizeof(d->device_id), "%s", rec->device_id);
    /* Open alarms set the rules active; the newest change bounds what is judged again. */
    struct first_sight f = {d, 0};
    struct alarm_filter flt = {.device_id = d->device_id, .limit = 64};
    int r = store_alarms_list(s->st, &flt, take_open, &f);
    if (r) {
        free(d);
        return r;
    }
    d->last_ts_ms = f.newest_change_ms > now - BACKFILL_MS ? f.newest_change_ms : now - BACKFILL_MS;
    d->last_seq = UINT64_MAX; /* readings of that very ms count as judged */
    struct reading latest;
    r = store_reading_latest(s->st, d->pk, &latest);
    if (r == 0) {
        d->heard_ms = latest.ts_ms;
        d->three_phase = alarm_reading_three_phase(&latest);
    } else if (r != -ENOENT) {
        free(d);
        return r;
    }
    memmove(&s->devs[pos + 1], &s->devs[pos], (s->n_devs - pos) * sizeof(*s->devs));
    s->devs[pos] = d;
    s->n_devs++;
    *ret = d;
    return 0;
}

static int take_override(const struct alarm_rule_override *o, void *ctx)
{
    struct {
        struct alarm_rule_override v[AK__COUNT];
        size_t n;
    } *ov = ctx;
    if (ov->n < AK__COUNT)
        ov->v[ov->n++] = *o;
    return 0;
}

/* Reads the device's limits again when they are stale. */
static int load_config(struct alarms_service *s, struct dev *d, int64_t now, uint64_t gen)
{
    if (d->cfg_ms && d->cfg_gen == gen && now - d->cfg_ms < CONFIG_TTL_MS)
        return 0;
    struct alarm_device_meta meta = s->o.site.meta;
    if (s->o.meta && s->o.meta->get) {
        struct device_rec rec = {.id = d->pk};
        snprintf(rec.device_id, sizeof(rec.device_id), "%s", d->device_id);
        int r = s->o.meta->get(s->o.meta->ctx, s->st, &rec, &meta);
        if (r)
            return r;
    }
    struct {
        struct alarm_rule_override v[AK__COUNT];
        size_t n;
    } ov = {.n = 0};
    int r = store_alarm_rules_get(s->st, d->device_id, take_override, &ov);
    if (r)
        return r;
    d->meta = meta;
    alarm_rules_for(&s->o.site, &meta, d->three_phase, ov.v, ov.n, d->rules);
    d->cfg_ms = now;
    d->cfg_gen = gen;
    return 0;
}

/* --- raising and clearing --- */

struct openids {
    struct alarms_service *s;
    const struct alarm_rec *a;
};

static int notify_user(const char *name, void *ctx)
{
    struct openids *o = ctx;
    struct user_rec u;
    struct wechat_binding_rec b;
    if (store_user_by_name(o->s->st, name, &u) || u.disabled ||
        store_wechat_by_user(o->s->st, u.id, &b))
        return 0; /* no WeChat account: nobody to tell */
    alarm_notifier_send(o->s->o.notifier, o->a, b.openid);
    return 0;
}

static int raise_alarm(struct alarms_service *s, struct dev *d, enum alarm_kind k, bool has_value,
                       double value, bool has_limit, double limit, int64_t at_ms,
                       const char *message)
{
    struct alarm_rec a = {.state = ALARM_RAISED, .raised_ms = at_ms > 0 ? at_ms : 1};
    snprintf(a.device_id, sizeof(a.device_id), "%s", d->device_id);
    snprintf(a.kind, sizeof(a.kind), "%s", alarm_kinds[k].name);
    snprintf(a.severity, sizeof(a.severity), "%s", alarm_kinds[k].severity);
    snprintf(a.site, sizeof(a.site), "%s", d->meta.site);
    a.has_value = has_value && isfinite(value);
    a.value = a.has_value ? value : 0;
    a.has_limit = has_limit && isfinite(limit);
    a.limit = a.has_limit ? limit : 0;
    snprintf(a.message, sizeof(a.message), "%s", message);
    bool fresh = false;
    int r = store_alarm_raise(s->st, &a, &a.id, &fresh);
    if (r || !fresh)
        return r;
    count(s, &s->c.raised, 1);
    log_info("alarms: %s raised for %s (%s)", a.kind, a.device_id, a.message);
    alarm_hub_publish(s->o.hub, &a);
    if (s->o.notifier) {
        struct openids o = {s, &a};
        r = store_binding_users(s->st, d->pk, notify_user, &o);
    }
    return r;
}

static int clear_alarm(struct alarms_service *s, struct dev *d, enum alarm_kind k, int64_t at_ms)
{
    int64_t id = 0;
    int r = store_alarm_clear(s->st, d->device_id, alarm_kinds[k].name, at_ms, &id);
    if (r == -ENOENT)
        return 0; /* cleared by someone else meanwhile, or never stored */
    if (r)
        return r;
    count(s, &s->c.cleared, 1);
    log_info("alarms: %s cleared for %s", alarm_kinds[k].name, d->device_id);
    struct alarm_rec a;
    if (s->o.hub && store_alarm_get(s->st, id, &a) == 0)
        alarm_hub_publish(s->o.hub, &a);
    return 0;
}

/* The limit as the alarm reports it: the frequency's is the bound crossed, not the deviation. */
static double report_limit(const struct dev *d, enum alarm_kind k, double value)
{
    const struct alarm_rule *r = &d->rules[k];
    if (k == AK_FREQUENCY)
        return value >= d->meta.nominal_hz ? d->meta.nominal_hz + r->limit
                                           : d->meta.nominal_hz - r->limit;
    return r->limit;
}

/* Feeds x at now to rule k and acts on the step. */
static int feed(struct alarms_service *s, struct dev *d, enum alarm_kind k, double x, double shown,
                int64_t now, const char *message)
{
    struct alarm_rule_state *st = &d->st[k];
    enum alarm_step step = alarm_rule_step(k, &d->rules[k], st, x, now);
    if (step == ALARM_STEP_CLEAR)
        return clear_alarm(s, d, k, now);
    if (step != ALARM_STEP_RAISE)
        return 0;
    double v = k == AK_FREQUENCY ? shown : st->value;
    const char *unit = alarm_kinds[k].unit;
    double lim = report_limit(d, k, v);
    char msg[STORE_ALARM_TEXT_MAX + 1];
    if (message)
        snprintf(msg, sizeof(msg), "%s", message);
    else
        snprintf(msg, sizeof(msg), "%s: %.2f%s%s %s the limit %.2f%s%s", alarm_kinds[k].title, v,
                 unit[0] ? " " : "", unit,
                 alarm_kinds[k].direction == ALARM_ABOVE ? "above" : "below", lim,
                 unit[0] ? " " : "", unit);
    return raise_alarm(s, d, k, true, v, true, lim, now, msg);
}

/* --- judging readings --- */

struct collected {
    struct reading *r;
    size_t n;
    int64_t after_ts_ms; /* only readings after (after_ts_ms, after_seq) */
    uint64_t after_seq;
};

static int collect(const struct reading *r, void *ctx)
{
    struct collected *c = ctx;
    if (r->ts_ms == c->after_ts_ms && r->seq <= c->after_seq)
        return 0; /* judged already */
    if (c->n < READINGS_MAX)
        c->r[c->n++] = *r;
    return 0;
}

static int judge_readings(struct alarms_service *s, struct dev *d, struct reading *buf,
                          uint64_t gen)
{
    int64_t now = time_now_ms();
    struct collected c = {buf, 0, d->last_ts_ms, d->last_seq};
    /* From the last one's ms on (a later reading may share it), newest first. */
    int r = store_readings_query(s->st, d->pk, d->last_ts_ms, INT64_MAX, READINGS_MAX, collect, &c);
    if (r || c.n == 0)
        return r;
    d->heard_ms = now;
    if (alarm_reading_three_phase(&buf[0]) != d->three_phase) {
        d->three_phase = !d->three_phase;
        d->cfg_ms = 0; /* the under-voltage limit depends on it */
    }
    if ((r = load_config(s, d, now, gen)) != 0)
        return r;
    for (size_t i = c.n; i-- > 0 && !r;) { /* oldest first */
        const struct reading *rd = &buf[i];
        for (int k = AK_VOLTAGE_OVER; k <= AK_SWELL && !r; k++) {
            double x;
            if (alarm_reading_value((enum alarm_kind)k, rd, &d->meta, &x))
                r = feed(s, d, (enum alarm_kind)k, x, alarm_report_value((enum alarm_kind)k, rd, x),
                         rd->ts_ms, NULL);
        }
        /* A reading ends any silence. */
        if (!r)
            r = feed(s, d, AK_OFFLINE, 0, 0, rd->ts_ms, NULL);
        if (!r) {
            d->last_ts_ms = rd->ts_ms;
            d->last_seq = rd->seq;
        }
    }
    count(s, &s->c.readings, c.n);
    return r;
}

/* --- the sweep: silence, and what the command service judged --- */

struct newest_event {
    char kind[STORE_EVENT_KIND_MAX + 1];
    char detail[STORE_EVENT_DETAIL_MAX + 1];
    int64_t at_ms;
};

static int take_event(const struct device_event *e, void *ctx)
{
    struct newest_event *n = ctx;
    snprintf(n->kind, sizeof(n->kind), "%s", e->kind);
    snprintf(n->detail, sizeof(n->detail), "%s", e->detail);
    n->at_ms = e->at_ms;
    return 0;
}

/* The command service's alert of prefix as a condition (1 raised, 0 cleared) into rule k. */
static int follow_event(struct alarms_service *s, struct dev *d, enum alarm_kind k,
                        const char *prefix, const char *raised_kind)
{
    struct newest_event e = {.at_ms = 0};
    int r = store_device_events(s->st, d->device_id, prefix, 1, take_event, &e);
    if (r || !e.at_ms)
        return r;
    bool on = strcmp(e.kind, raised_kind) == 0;
    enum alarm_step step = alarm_rule_step(k, &d->rules[k], &d->st[k], on ? 1 : 0, e.at_ms);
    if (step == ALARM_STEP_RAISE)
        return raise_alarm(s, d, k, false, 0, false, 0, e.at_ms, e.detail);
    if (step == ALARM_STEP_CLEAR)
        return clear_alarm(s, d, k, e.at_ms);
    return 0;
}

static int follow_cutoff(struct alarms_service *s, struct dev *d, int64_t now)
{
    struct command_rec c;
    int r = store_command_latest(s->st, d->device_id, "relay", &c);
    if (r == -ENOENT)
        return 0;
    if (r)
        return r;
    bool cut = !c.relay_on && strcmp(c.actor, COMMANDS_ACTOR_CUTOFF) == 0 &&
               c.state != CMD_FAILED && c.state != CMD_EXPIRED;
    enum alarm_step step =
        alarm_rule_step(AK_CUTOFF, &d->rules[AK_CUTOFF], &d->st[AK_CUTOFF], cut ? 1 : 0, now);
    if (step == ALARM_STEP_RAISE)
        return raise_alarm(s, d, AK_CUTOFF, false, 0, false, 0, c.created_ms, c.reason);
    if (step == ALARM_STEP_CLEAR)
        return clear_alarm(s, d, AK_CUTOFF, now);
    return 0;
}

/* What the sweep looks up about every device, once for all of them (store_devices_having()). */
struct having {
    int64_t *pks[DEVICES_HAVING__COUNT];
    size_t n[DEVICES_HAVING__COUNT];
};

static bool has(const struct having *h, enum device_having what, const struct dev *d)
{
    return device_pks_have(h->pks[what], h->n[what], d->pk);
}

/* A device without events or commands has nothing to follow: no query for it. */
static int sweep_dev(struct alarms_service *s, struct dev *d, int64_t now, uint64_t gen,
                     const struct having *h)
{
    int r = load_config(s, d, now, gen);
    if (!r && d->heard_ms) {
        double silent_min = (double)(now - d->heard_ms) / 60000.0;
        if (silent_min < 0)
            silent_min = 0;
        char msg[STORE_ALARM_TEXT_MAX + 1];
        snprintf(msg, sizeof(msg), "no reading for %.1f minutes", silent_min);
        r = feed(s, d, AK_OFFLINE, silent_min, silent_min, now, msg);
    }
    bool events = has(h, DEVICES_HAVING_EVENTS, d);
    if (!r && events)
        r = follow_event(s, d, AK_BALANCE_LOW, "balance.", COMMANDS_EVENT_LOW);
    if (!r && events)
        r = follow_event(s, d, AK_RELAY_MISMATCH, "relay.", COMMANDS_EVENT_MISMATCH);
    if (!r && has(h, DEVICES_HAVING_COMMANDS, d))
        r = follow_cutoff(s, d, now);
    return r;
}

static int sweep(struct alarms_service *s, uint64_t gen)
{
    int64_t now = time_now_ms();
    for (size_t i = 0; i < s->n_devs; i++)
        s->devs[i]->swept = false;
    /* The devices first: first sight queries the same connection. */
    struct device_rec *l = NULL;
    size_t n = 0;
    int r = store_device_array(s->st, 0, SIZE_MAX, &l, &n);
    for (size_t i = 0; !r && i < n; i++) {
        struct dev *d;
        r = add_dev(s, &l[i], now, &d);
        if (!r)
            d->swept = true;
    }
    free(l);
    if (r)
        return r;
    size_t keep = 0;
    for (size_t i = 0; i < s->n_devs; i++) { /* deleted devices are forgotten */
        if (s->devs[i]->swept)
            s->devs[keep++] = s->devs[i];
        else
            free(s->devs[i]);
    }
    s->n_devs = keep;
    struct having h;
    memset(&h, 0, sizeof(h));
    r = store_devices_having(s->st, DEVICES_HAVING_EVENTS, &h.pks[DEVICES_HAVING_EVENTS],
                             &h.n[DEVICES_HAVING_EVENTS]);
    if (!r)
        r = store_devices_having(s->st, DEVICES_HAVING_COMMANDS, &h.pks[DEVICES_HAVING_COMMANDS],
                                 &h.n[DEVICES_HAVING_COMMANDS]);
    for (size_t i = 0; i < s->n_devs && !r; i++)
        r = sweep_dev(s, s->devs[i], now, gen, &h);
    for (int k = 0; k < DEVICES_HAVING__COUNT; k++)
        free(h.pks[k]);
    return r;
}

/* --- the thread --- */

static int cmp_pk(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static bool open_db(struct alarms_service *s)
{
    char err[STORE_ERR_LEN];
    if (s->st)
        return true;
    if (store_source_open(&s->db, &s->st, err)) {
        log_warn("alarms: cannot open the database: %s", err);
        s->st = NULL;
        return false;
    }
    return true;
}

static void db_failed(struct alarms_service *s, const char *what)
{
    log_warn("alarms: %s: %s", what, store_errmsg(s->st));
    store_close(s->st);
    s->st = NULL;
    count(s, &s->c.errors, 1);
}

static void *alarms_main(void *arg)
{
    struct alarms_service *s = arg;
    int64_t *work = malloc(NOTED_MAX * sizeof(*work));
    struct reading *buf = malloc(READINGS_MAX * sizeof(*buf));
    pthread_mutex_lock(&s->mu);
    while (!s->quit && work && buf) {
        int64_t now = time_now_ms();
        bool waiting = now < s->retry_at_ms; /* the database failed: not before retry_at_ms */
        bool sweep_due = !waiting && (s->overflow || now >= s->next_sweep_ms || s->flushing);
        bool noted_due =
            !waiting && s->n_noted && (s->flushing || now >= s->first_note_ms + COALESCE_MS);
        if (!sweep_due && !noted_due) {
            s->busy = false;
            pthread_cond_broadcast(&s->idle);
            int64_t next = waiting ? s->retry_at_ms : s->next_sweep_ms;
            if (!waiting && s->n_noted && s->first_note_ms + COALESCE_MS < next)
                next = s->first_note_ms + COALESCE_MS;
            if (next > now + 1000)
                next = now + 1000; /* the keep-alives of the live stream */
            struct timespec ts = {.tv_sec = next / 1000, .tv_nsec = (long)(next % 1000) * 1000000};
            pthread_cond_timedwait(&s->wake, &s->mu, &ts);
            pthread_mutex_unlock(&s->mu);
            alarm_hub_tick(s->o.hub, time_now_ms());
            pthread_mutex_lock(&s->mu);
            continue;
        }
        s->busy = true;
        size_t n = s->n_noted;
        memcpy(work, s->noted, n * sizeof(*work));
        s->n_noted = 0;
        bool overflow = s->overflow;
        s->overflow = false;
        uint64_t gen = s->noted_gen, cfg_gen = s->cfg_gen;
        bool flushing = s->flushing;
        pthread_mutex_unlock(&s->mu);

        bool ok = open_db(s);
        if (ok && n > 1)
            qsort(work, n, sizeof(*work), cmp_pk);
        for (size_t i = 0; ok && i < n; i++) {
            if (i && work[i] == work[i - 1])
                continue;
            struct dev *d = find_dev(s, work[i], NULL);
            if (!d) {
                overflow = true; /* a new device: the sweep below adds it, then it is judged */
                continue;
            }
            if (judge_readings(s, d, buf, cfg_gen)) {
                db_failed(s, "judging readings");
                ok = false;
            }
        }
        if (ok && (sweep_due || overflow)) {
            if (sweep(s, cfg_gen)) {
                db_failed(s, "sweep");
                ok = false;
            }
            /* Devices first seen now are judged at once. */
            for (size_t i = 0; ok && overflow && i < n; i++) {
                struct dev *d = find_dev(s, work[i], NULL);
                if (d && judge_readings(s, d, buf, cfg_gen)) {
                    db_failed(s, "judging readings");
                    ok = false;
                }
            }
        }
        alarm_hub_tick(s->o.hub, time_now_ms()); /* keep-alives, busy or not */
        pthread_mutex_lock(&s->mu);
        if (ok && (sweep_due || overflow))
            s->next_sweep_ms = time_now_ms() + s->o.sweep_ms;
        if (!ok) {
            s->next_sweep_ms = s->retry_at_ms = time_now_ms() + RETRY_MS;
            for (size_t i = 0; i < n && s->n_noted < NOTED_MAX; i++) /* judged again later */
                s->noted[s->n_noted++] = work[i];
        } else {
            s->done_gen = gen;
            if (flushing)
                s->flushing = false;
        }
    }
    s->busy = false;
    pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    free(work);
    free(buf);
    return NULL;
}

int alarms_start(const struct alarms_options *o, struct alarms_service **ret, char *err,
                 size_t errlen)
{
    if (o->sweep_ms < 0) {
        snprintf(err, errlen, "alarms: the sweep interval must not be negative");
        return -EINVAL;
    }
    struct alarms_service *s = calloc(1, sizeof(*s));
    if (s)
        s->noted = malloc(NOTED_MAX * sizeof(*s->noted));
    if (!s || !s->noted || store_source_copy(&s->db, &o->db)) {
        if (s)
            free(s->noted);
        free(s);
        snprintf(err, errlen, "alarms: out of memory");
        return -ENOMEM;
    }
    s->o = *o;
    if (!s->o.sweep_ms)
        s->o.sweep_ms = ALARMS_SWEEP_MS_DEFAULT;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->wake, NULL);
    pthread_cond_init(&s->idle, NULL);
    int r = pthread_create(&s->thread, NULL, alarms_main, s);
    if (r) {
        snprintf(err, errlen, "alarms: cannot start its thread: %s", strerror(r));
        store_source_clear(&s->db);
        free(s->noted);
        free(s);
        return -r;
    }
    *ret = s;
    return 0;
}

int alarms_flush(struct alarms_service *s, int64_t timeout_ms)
{
    int64_t deadline = time_now_ms() + timeout_ms;
    int r = 0;
    pthread_mutex_lock(&s->mu);
    uint64_t want = s->noted_gen;
    s->flushing = true;
    pthread_cond_signal(&s->wake);
    while (s->done_gen < want || s->flushing || s->busy) {
        if (time_now_ms() >= deadline) {
            r = -ETIMEDOUT;
            break;
        }
        struct timespec ts = {.tv_sec = deadline / 1000,
                              .tv_nsec = (long)(deadline % 1000) * 1000000};
        pthread_cond_timedwait(&s->idle, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return r;
}

void alarms_counters(struct alarms_service *s, struct alarms_counters *ret)
{
    pthread_mutex_lock(&s->mu);
    *ret = s->c;
    pthread_mutex_unlock(&s->mu);
}

void alarms_stop(struct alarms_service *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    store_close(s->st);
    for (size_t i = 0; i < s->n_devs; i++)
        free(s->devs[i]);
    free(s->devs);
    store_source_clear(&s->db);
    pthread_cond_destroy(&s->wake);
    pthread_cond_destroy(&s->idle);
    pthread_mutex_destroy(&s->mu);
    free(s->noted);
    free(s);
}
