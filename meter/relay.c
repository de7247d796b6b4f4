#include "relay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"

static int damaged(const char *path, int line, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "relay state %s line %d: %s (fix or remove the file: removing it turns "
             "the load on)",
             path, line, what);
    return -EINVAL;
}

/*
 * Copies the line starting at *p into buf and moves *p past it. False at the
 * end of the text or for a line of cap bytes or more.
 */
static bool next_line(const char **p, char *buf, size_t cap)
{
    const char *s = *p;
    const char *e = strchr(s, '\n');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    *p = s + n + (e ? 1 : 0);
    if (!*s || n >= cap)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

int relay_parse(const char *text, size_t len, struct relay_state *s, char *err, size_t errlen)
{
    if (len > RELAY_FILE_MAX || strlen(text) != len)
        return damaged(s->path, 1, "not a relay state (binary, or too long)", err, errlen);
    char line[COMMAND_ID_MAX + 2];
    const char *p = text;
    if (!next_line(&p, line, sizeof(line)) || (strcmp(line, "on") != 0 && strcmp(line, "off") != 0))
        return damaged(s->path, 1, "expected \"on\" or \"off\"", err, errlen);
    s->on = line[1] == 'n';
    if (!next_line(&p, line, sizeof(line)) || !line[0])
        return damaged(s->path, 2, "expected the time of the last command", err, errlen);
    char *end;
    errno = 0;
    long long ts = strtoll(line, &end, 10);
    if (errno || *end)
        return damaged(s->path, 2, "expected the time of the last command", err, errlen);
    s->last_ts_ms = ts;
    s->n_ids = 0;
    for (int ln = 3; *p; ln++) {
        if (!next_line(&p, line, sizeof(line)) || !command_id_valid(line))
            return damaged(s->path, ln, "expected a command id", err, errlen);
        if (s->n_ids == RELAY_IDS_MAX)
            return damaged(s->path, ln, "too many command ids", err, errlen);
        memcpy(s->ids[s->n_ids++], line, strlen(line) + 1);
    }
    return 0;
}

int relay_load(const char *state_dir, const char *device_id, struct relay_state *ret, char *err,
               size_t errlen)
{
    struct relay_state s;
    memset(&s, 0, sizeof(s));
    if ((size_t)snprintf(s.path, sizeof(s.path), "%s/%s.relay", state_dir, device_id) >=
        sizeof(s.path)) {
        snprintf(err, errlen, "relay state: path too long");
        return -ENAMETOOLONG;
    }
    char *data = NULL;
    size_t len;
    int r = file_read_all(s.path, RELAY_FILE_MAX, &data, &len);
    if (r == -ENOENT) {
        s.on = true;
        s.last_ts_ms = INT64_MIN;
        *ret = s;
        return 0;
    }
    if (r) {
        snprintf(err, errlen, "relay state %s: %s", s.path, strerror(-r));
        return r;
    }
    r = relay_parse(data, len, &s, err, errlen);
    free(data);
    if (!r)
        *ret = s;
    return r;
}

int relay_format(const struct relay_state *s, char out[RELAY_FILE_MAX + 1], size_t *ret_len)
{
    size_t cap = RELAY_FILE_MAX + 1;
    size_t n = (size_t)snprintf(out, cap, "%s\n%" PRId64 "\n", s->on ? "on" : "off", s->last_ts_ms);
    for (size_t k = 0; k < s->n_ids && k < RELAY_IDS_MAX && n < cap; k++)
        n += (size_t)snprintf(out + n, cap - n, "%s\n", s->ids[k]);
    if (n >= cap)
        return -E2BIG;
    *ret_len = n;
    return 0;
}

int relay_save(const struct relay_state *s)
{
    char buf[RELAY_FILE_MAX + 1];
    size_t n;
    int r = relay_format(s, buf, &n);
    return r ? r : file_write_atomic(s->path, buf, n, 0600);
}

static bool seen(const struct relay_state *s, const char *id)
{
    for (size_t k = 0; k < s->n_ids; k++)
        if (strcmp(s->ids[k], id) == 0)
            return true;
    return false;
}

int relay_apply(struct relay_state *s, const struct command *c,
                int (*switch_fn)(void *ctx, bool on), void *ctx, enum relay_outcome *ret_outcome)
{
    if (c->kind != COMMAND_RELAY || !command_id_valid(c->id))
        return -EINVAL;
    if (seen(s, c->id)) {
        *ret_outcome = RELAY_REPEATED;
        return 0;
    }
    if (c->ts_ms < s->last_ts_ms) {
        *ret_outcome = RELAY_SUPERSEDED;
        return 0;
    }
    struct relay_state next = *s;
    next.on = c->relay_on;
    next.last_ts_ms = c->ts_ms;
    memmove(next.ids[1], next.ids[0], sizeof(next.ids[0]) * (RELAY_IDS_MAX - 1));
    memcpy(next.ids[0], c->id, strlen(c->id) + 1);
    if (next.n_ids < RELAY_IDS_MAX)
        next.n_ids++;
    int r = relay_save(&next);
    if (r)
        return r;
    bool changed = next.on != s->on;
    *s = next;
    /* Saved first: a cut before the line moves is put right at the next start. */
    if (switch_fn && (r = switch_fn(ctx, s->on)))
        return r;
    *ret_outcome = changed ? RELAY_SWITCHED : RELAY_UNCHANGED;
    return 0;
}
