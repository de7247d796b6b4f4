#include "interval.h"

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
             "interval state %s line %d: %s (fix or remove the file: removing it goes back to "
             "the configured interval)",
             path, line, what);
    return -EINVAL;
}

int interval_parse(const char *text, size_t len, struct interval_state *s, char *err, size_t errlen)
{
    if (len > INTERVAL_FILE_MAX || strlen(text) != len)
        return damaged(s->path, 1, "not an interval state (binary, or too long)", err, errlen);
    char line[COMMAND_ID_MAX + 2];
    const char *p = text;
    bool ok = cmd_ids_line(&p, line, sizeof(line)) && line[0] >= '0' && line[0] <= '9';
    char *end = NULL;
    errno = 0;
    unsigned long long ms = ok ? strtoull(line, &end, 10) : 0;
    if (!ok || errno || *end || ms < COMMAND_INTERVAL_MIN_MS || ms > COMMAND_INTERVAL_MAX_MS)
        return damaged(s->path, 1, "expected the interval in ms", err, errlen);
    s->interval_ms = (uint32_t)ms;
    int ln;
    const char *what;
    if (cmd_ids_parse(&p, 2, s->ids, INTERVAL_IDS_MAX, &s->n_ids, &ln, &what))
        return damaged(s->path, ln, what, err, errlen);
    s->present = true;
    return 0;
}

int interval_load(const char *state_dir, const char *device_id, struct interval_state *ret,
                  char *err, size_t errlen)
{
    struct interval_state s;
    memset(&s, 0, sizeof(s));
    if ((size_t)snprintf(s.path, sizeof(s.path), "%s/%s.interval", state_dir, device_id) >=
        sizeof(s.path)) {
        snprintf(err, errlen, "interval state: path too long");
        return -ENAMETOOLONG;
    }
    char *data = NULL;
    size_t len;
    int r = file_read_all(s.path, INTERVAL_FILE_MAX, &data, &len);
    if (r == -ENOENT) {
        *ret = s;
        return 0;
    }
    if (r) {
        snprintf(err, errlen, "interval state %s: %s", s.path, strerror(-r));
        return r;
    }
    r = interval_parse(data, len, &s, err, errlen);
    free(data);
    if (!r)
        *ret = s;
    return r;
}

int interval_format(const struct interval_state *s, char out[INTERVAL_FILE_MAX + 1],
                    size_t *ret_len)
{
    size_t cap = INTERVAL_FILE_MAX + 1;
    size_t n = (size_t)snprintf(out, cap, "%" PRIu32 "\n", s->interval_ms);
    if (n >= cap || cmd_ids_format(s->ids, s->n_ids, out, cap, &n))
        return -E2BIG;
    *ret_len = n;
    return 0;
}

int interval_apply(struct interval_state *s, const struct command *c,
                   enum interval_outcome *ret_outcome)
{
    if (c->kind != COMMAND_SET_INTERVAL || !command_id_valid(c->id) ||
        c->interval_ms < COMMAND_INTERVAL_MIN_MS || c->interval_ms > COMMAND_INTERVAL_MAX_MS)
        return -EINVAL;
    if (cmd_ids_seen(s->ids, s->n_ids, c->id)) {
        *ret_outcome = INTERVAL_REPEATED;
        return 0;
    }
    struct interval_state next = *s;
    next.present = true;
    next.interval_ms = c->interval_ms;
    cmd_ids_remember(next.ids, INTERVAL_IDS_MAX, &next.n_ids, c->id);
    char buf[INTERVAL_FILE_MAX + 1];
    size_t n;
    int r = interval_format(&next, buf, &n);
    if (!r)
        r = file_write_atomic(next.path, buf, n, 0600);
    if (r)
        return r;
    *s = next;
    *ret_outcome = INTERVAL_APPLIED;
    return 0;
}
