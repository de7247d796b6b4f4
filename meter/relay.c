#include "relay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_ids.h"
#include "fileutil.h"

static int damaged(const char *path, int line, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen,
             "relay state %s line %d: %s (fix or remove the file: removing it turns "
             "the load on)",
             path, line, what);
    return -EINVAL;
}

int relay_parse(const char *text, size_t len, struct relay_state *s, char *err, size_t errlen)
{
    if (len > RELAY_FILE_MAX || strlen(text) != len)
        return damaged(s->path, 1, "not a relay state (binary, or too long)", err, errlen);
    char line[COMMAND_ID_MAX + 2];
    const char *p = text;
    if (!cmd_ids_line(&p, line, sizeof(line)) ||
        (strcmp(line, "on") != 0 && strcmp(line, "off") != 0))
        return damaged(s->path, 1, "expected \"on\" or \"off\"", err, errlen);
    s->on = line[1] == 'n';
    if (!cmd_ids_line(&p, line, sizeof(line)) || !line[0])
        return damaged(s->path, 2, "expected the time of the last command", err, errlen);
    char *end;
    errno = 0;
    long long ts = strtoll(line, &end, 10);
    if (errno || *end)
        return damaged(s->path, 2, "expected the time of the last command", err, errlen);
    s->last_ts_ms = ts;
    int ln;
    const char *what;
    if (cmd_ids_parse(&p, 3, s->ids, RELAY_IDS_MAX, &s->n_ids, &ln, &what))
        return damaged(s->path, ln, what, err, errlen);
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
    if (n >= cap || cmd_ids_format(s->ids, s->n_ids, out, cap, &n))
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

int relay_apply(struct relay_state *s, const struct command *c,
                int (*switch_fn)(void *ctx, bool on), void *ctx, enum relay_outcome *ret_outcome)
{
    if (c->kind != COMMAND_RELAY || !command_id_valid(c->id))
        return -EINVAL;
    if (cmd_ids_seen(s->ids, s->n_ids, c->id)) {
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
    cmd_ids_remember(next.ids, RELAY_IDS_MAX, &next.n_ids, c->id);
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
