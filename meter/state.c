#include "state.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"

void meter_state_init(struct meter_state *s, const char *device_id)
{
    memset(s, 0, sizeof(*s));
    snprintf(s->device_id, sizeof(s->device_id), "%s", device_id);
    snprintf(s->wiring, sizeof(s->wiring), "1p2w");
}

int meter_state_path(const char *dir, const char *device_id, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/meterd-%s.state", dir, device_id);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int meter_state_backup_path(const char *path, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s.bak", path);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int meter_state_format(const struct meter_state *s, char *buf, size_t len)
{
    int n = snprintf(buf, len,
                     "%s %d\n"
                     "device_id %s\n"
                     "seq %" PRIu64 "\n"
                     "boot %" PRIu32 "\n"
                     "energy_import_mwh %" PRId64 "\n"
                     "energy_export_mwh %" PRId64 "\n"
                     "reactive_import_mvarh %" PRId64 "\n"
                     "reactive_export_mvarh %" PRId64 "\n"
                     "energy_import_a_mwh %" PRId64 "\n"
                     "energy_import_b_mwh %" PRId64 "\n"
                     "energy_import_c_mwh %" PRId64 "\n"
                     "wiring %s\n"
                     "demand_max_mw %" PRId64 "\n"
                     "demand_max_ts_ms %" PRId64 "\n"
                     "demand_month_ms %" PRId64 "\n",
                     METER_STATE_MAGIC, METER_STATE_VERSION, s->device_id, s->seq, s->boot,
                     s->energy_import_mwh, s->energy_export_mwh, s->reactive_import_mvarh,
                     s->reactive_export_mvarh, s->energy_import_phase_mwh[0],
                     s->energy_import_phase_mwh[1], s->energy_import_phase_mwh[2],
                     s->wiring[0] ? s->wiring : "1p2w", s->demand_max_mw, s->demand_max_ts_ms,
                     s->demand_month_ms);
    if (n < 0 || (size_t)n >= len)
        return -ENOSPC;
    uint32_t crc = crc32_ieee(buf, (size_t)n);
    int m = snprintf(buf + n, len - (size_t)n, "crc32 %08" PRIx32 "\n", crc);
    if (m < 0 || (size_t)m >= len - (size_t)n)
        return -ENOSPC;
    return n + m;
}

/* A cursor over the file's lines, for messages that name the line. */
struct lines {
    const char *p, *end;
    int lineno;
    char line[160];
};

static bool next_line(struct lines *l)
{
    if (l->p >= l->end)
        return false;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    size_t n = nl ? (size_t)(nl - l->p) : (size_t)(l->end - l->p);
    l->lineno++;
    if (n >= sizeof(l->line))
        n = sizeof(l->line) - 1; /* a long line cannot match any expected one anyway */
    memcpy(l->line, l->p, n);
    l->line[n] = '\0';
    l->p = nl ? nl + 1 : l->end;
    return true;
}

/* Expects "key <unsigned decimal>" on the next line. */
static int expect_u64(struct lines *l, const char *key, uint64_t max, uint64_t *ret, char *err,
                      size_t errlen, const char *path)
{
    size_t klen = strlen(key);
    if (!next_line(l) || strncmp(l->line, key, klen) != 0 || l->line[klen] != ' ' ||
        l->line[klen + 1] < '0' || l->line[klen + 1] > '9')
        goto bad;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(l->line + klen + 1, &end, 10);
    if (errno || *end != '\0' || v > max)
        goto bad;
    *ret = v;
    return 0;
bad:
    snprintf(err, errlen, "state file %s line %d: expected '%s <integer>'", path, l->lineno, key);
    return -EBADMSG;
}

/* Expects "key <signed decimal>" with |value| <= max on the next line. */
static int expect_i64(struct lines *l, const char *key, int64_t max, int64_t *ret, char *err,
                      size_t errlen, const char *path)
{
    size_t klen = strlen(key);
    if (!next_line(l) || strncmp(l->line, key, klen) != 0 || l->line[klen] != ' ')
        goto bad;
    const char *v = l->line + klen + 1;
    if (!((v[0] >= '0' && v[0] <= '9') || (v[0] == '-' && v[1] >= '0' && v[1] <= '9')))
        goto bad;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end != '\0' || x > max || x < -max)
        goto bad;
    *ret = x;
    return 0;
bad:
    snprintf(err, errlen, "state file %s line %d: expected '%s <integer>'", path, l->lineno, key);
    return -EBADMSG;
}

/* The format version a first line names, or 0 when it is not one we read. */
static int magic_version(const char *line)
{
    for (int v = 1; v <= METER_STATE_VERSION; v++) {
        char magic[64];
        snprintf(magic, sizeof(magic), "%s %d", METER_STATE_MAGIC, v);
        if (strcmp(line, magic) == 0)
            return v;
    }
    return 0;
}

static int parse_at(const char *text, size_t len, const char *device_id, struct meter_state *ret,
                    char *err, size_t errlen, const char *path)
{
    struct lines l = {.p = text, .end = text + len};
    struct meter_state s;
    uint64_t u;
    int r;

    memset(&s, 0, sizeof(s));
    int version = next_line(&l) ? magic_version(l.line) : 0;
    if (!version) {
        snprintf(err, errlen, "state file %s: not a meterd state file (version 1..%d expected)",
                 path, METER_STATE_VERSION);
        return -EBADMSG;
    }
    if (!next_line(&l) || strncmp(l.line, "device_id ", 10) != 0 || !device_id_valid(l.line + 10)) {
        snprintf(err, errlen, "state file %s line %d: expected 'device_id <id>'", path, l.lineno);
        return -EBADMSG;
    }
    memcpy(s.device_id, l.line + 10, strlen(l.line + 10) + 1); /* valid ids fit */
    if ((r = expect_u64(&l, "seq", (uint64_t)READING_SEQ_MAX, &s.seq, err, errlen, path)))
        return r;
    if ((r = expect_u64(&l, "boot", UINT32_MAX, &u, err, errlen, path)))
        return r;
    s.boot = (uint32_t)u;
    if ((r = expect_u64(&l, "energy_import_mwh", (uint64_t)METER_STATE_ENERGY_MAX_MWH, &u, err,
                        errlen, path)))
        return r;
    s.energy_import_mwh = (int64_t)u;
    if ((r = expect_u64(&l, "energy_export_mwh", (uint64_t)METER_STATE_ENERGY_MAX_MWH, &u, err,
                        errlen, path)))
        return r;
    s.energy_export_mwh = (int64_t)u;
    if (version >= 2) {
        if ((r = expect_u64(&l, "reactive_import_mvarh", (uint64_t)METER_STATE_ENERGY_MAX_MWH, &u,
                            err, errlen, path)))
            return r;
        s.reactive_import_mvarh = (int64_t)u;
        if ((r = expect_u64(&l, "reactive_export_mvarh", (uint64_t)METER_STATE_ENERGY_MAX_MWH, &u,
                            err, errlen, path)))
            return r;
        s.reactive_export_mvarh = (int64_t)u;
    }
    snprintf(s.wiring, sizeof(s.wiring), "1p2w");
    if (version >= 3) {
        static const char *const phase_keys[3] = {"energy_import_a_mwh", "energy_import_b_mwh",
                                                  "energy_import_c_mwh"};
        for (int ph = 0; ph < 3; ph++) {
            if ((r = expect_u64(&l, phase_keys[ph], (uint64_t)METER_STATE_ENERGY_MAX_MWH, &u, err,
                                errlen, path)))
                return r;
            s.energy_import_phase_mwh[ph] = (int64_t)u;
        }
        if (!next_line(&l) || strncmp(l.line, "wiring ", 7) != 0 ||
            (strcmp(l.line + 7, "1p2w") && strcmp(l.line + 7, "3p4w") &&
             strcmp(l.line + 7, "3p3w"))) {
            snprintf(err, errlen, "state file %s line %d: expected 'wiring 1p2w|3p4w|3p3w'", path,
                     l.lineno);
            return -EBADMSG;
        }
        memcpy(s.wiring, l.line + 7, 5); /* one of the three names checked above */
        /* 1e10 W is the wire format's bound; a time before 10000 AD. */
        if ((r = expect_i64(&l, "demand_max_mw", INT64_C(10000000000000), &s.demand_max_mw, err,
                            errlen, path)) ||
            (r = expect_i64(&l, "demand_max_ts_ms", INT64_C(253402300799999), &s.demand_max_ts_ms,
                            err, errlen, path)) ||
            (r = expect_i64(&l, "demand_month_ms", INT64_C(253402300799999), &s.demand_month_ms,
                            err, errlen, path)))
            return r;
    }

    size_t covered = (size_t)(l.p - text);
    if (!next_line(&l) || strncmp(l.line, "crc32 ", 6) != 0 || strlen(l.line) != 14) {
        snprintf(err, errlen, "state file %s line %d: expected 'crc32 <8 hex digits>'", path,
                 l.lineno);
        return -EBADMSG;
    }
    char *end;
    errno = 0;
    unsigned long stored = strtoul(l.line + 6, &end, 16);
    if (errno || *end != '\0') {
        snprintf(err, errlen, "state file %s line %d: expected 'crc32 <8 hex digits>'", path,
                 l.lineno);
        return -EBADMSG;
    }
    if (l.p != l.end) {
        snprintf(err, errlen, "state file %s: unexpected text after line %d", path, l.lineno);
        return -EBADMSG;
    }
    uint32_t computed = crc32_ieee(text, covered);
    if (stored != computed) {
        snprintf(err, errlen,
                 "state file %s: checksum mismatch (stored %08lx, computed %08" PRIx32 ")", path,
                 stored, computed);
        return -EBADMSG;
    }
    if (strcmp(s.device_id, device_id) != 0) {
        snprintf(err, errlen, "state file %s belongs to device '%s', not '%s'", path, s.device_id,
                 device_id);
        return -EXDEV;
    }
    *ret = s;
    return 0;
}

int meter_state_parse(const char *text, size_t len, const char *device_id, struct meter_state *ret,
                      char *err, size_t errlen)
{
    return parse_at(text, len, device_id, ret, err, errlen, "(text)");
}

int meter_state_load(const char *path, const char *device_id, struct meter_state *ret, char *err,
                     size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    int r = file_read_all(path, METER_STATE_MAX_SIZE, &text, &len);
    if (r == -ENOENT) {
        snprintf(err, errlen, "state file %s does not exist", path);
        return r;
    }
    if (r == -E2BIG) {
        snprintf(err, errlen, "state file %s: larger than %d bytes, not a meterd state file", path,
                 METER_STATE_MAX_SIZE);
        return -EBADMSG;
    }
    if (r) {
        snprintf(err, errlen, "state file %s: %s", path, strerror(-r));
        return r;
    }
    r = parse_at(text, len, device_id, ret, err, errlen, path);
    free(text);
    return r;
}

/* A copy that is damaged rather than unreadable for another reason: the other copy may stand in. */
static bool damaged(int r)
{
    return r == -EBADMSG || r == -EIO;
}

/* Every counter of a and b at its larger value: nothing persisted ever goes backwards. */
static struct meter_state newest_of(const struct meter_state *a, const struct meter_state *b)
{
    struct meter_state s = *a;
#define TAKE_MAX(f)                                                                                \
    do {                                                                                           \
        if (b->f > s.f)                                                                            \
            s.f = b->f;                                                                            \
    } while (0)
    TAKE_MAX(seq);
    TAKE_MAX(boot);
    TAKE_MAX(energy_import_mwh);
    TAKE_MAX(energy_export_mwh);
    TAKE_MAX(reactive_import_mvarh);
    TAKE_MAX(reactive_export_mvarh);
    TAKE_MAX(energy_import_phase_mwh[0]);
    TAKE_MAX(energy_import_phase_mwh[1]);
    TAKE_MAX(energy_import_phase_mwh[2]);
#undef TAKE_MAX
    /* The maximum demand of the later month, or the larger of the same month's. */
    if (b->demand_max_ts_ms &&
        (!s.demand_max_ts_ms || b->demand_month_ms > s.demand_month_ms ||
         (b->demand_month_ms == s.demand_month_ms && b->demand_max_mw > s.demand_max_mw))) {
        s.demand_max_mw = b->demand_max_mw;
        s.demand_max_ts_ms = b->demand_max_ts_ms;
        s.demand_month_ms = b->demand_month_ms;
    }
    return s;
}

int meter_state_load_newest(const char *path, const char *device_id, struct meter_state *ret,
                            int *ret_main_state, char *err, size_t errlen)
{
    char bak[4096];
    char err_main[METER_STATE_ERR_LEN], err_bak[METER_STATE_ERR_LEN];
    struct meter_state s_main, s_bak;

    if (meter_state_backup_path(path, bak, sizeof(bak))) {
        snprintf(err, errlen, "state file %s: path too long", path);
        return -ENAMETOOLONG;
    }
    int r_main = meter_state_load(path, device_id, &s_main, err_main, sizeof(err_main));
    int r_bak = meter_state_load(bak, device_id, &s_bak, err_bak, sizeof(err_bak));

    /* Another device's file, or a file we cannot judge (permissions): never guess. */
    if (r_main == -EXDEV || (r_main && r_main != -ENOENT && !damaged(r_main))) {
        snprintf(err, errlen, "%s", err_main);
        return r_main;
    }
    if (r_bak == -EXDEV || (r_bak && r_bak != -ENOENT && !damaged(r_bak))) {
        snprintf(err, errlen, "%s", err_bak);
        return r_bak;
    }
    if (r_main == 0 && r_bak == 0) {
        *ret = newest_of(&s_main, &s_bak);
        err[0] = '\0';
    } else if (r_main == 0) {
        *ret = s_main;
        if (damaged(r_bak))
            snprintf(err, errlen, "%s; the backup will be rewritten from %s", err_bak, path);
        else
            err[0] = '\0'; /* no backup yet: a version 1 state directory */
    } else if (r_bak == 0) {
        *ret = s_bak;
        snprintf(err, errlen, "%s; using the backup %s (seq %" PRIu64 ")", err_main, bak,
                 s_bak.seq);
    } else if (r_main == -ENOENT && r_bak == -ENOENT) {
        snprintf(err, errlen, "%s", err_main);
        return -ENOENT;
    } else {
        snprintf(err, errlen, "%s; %s; refusing to start rather than reuse sequence numbers",
                 err_main, err_bak);
        return -EBADMSG;
    }
    *ret_main_state = r_main;
    return 0;
}

int meter_state_save(const char *path, const struct meter_state *s)
{
    char buf[METER_STATE_MAX_SIZE];
    char bak[4096];
    int n = meter_state_format(s, buf, sizeof(buf));
    if (n < 0)
        return n;
    if (meter_state_backup_path(path, bak, sizeof(bak)))
        return -ENAMETOOLONG;
    /* Main first: a crash in between leaves a valid main one save ahead of the backup. */
    int r = file_write_atomic(path, buf, (size_t)n, 0640);
    if (r)
        return r;
    return file_write_atomic(bak, buf, (size_t)n, 0640);
}

int meter_state_open(const char *dir, const char *device_id, struct meter_state *ret,
                     char *ret_path, size_t ret_path_len, bool *ret_fresh, char *err, size_t errlen)
{
    struct meter_state s;
    bool fresh = false;
    int main_state = 0;

    int r = file_mkdirs(dir, 0750);
    if (r) {
        snprintf(err, errlen, "state directory %s: %s", dir, strerror(-r));
        return r;
    }
    if (meter_state_path(dir, device_id, ret_path, ret_path_len)) {
        snprintf(err, errlen, "state directory %s: path too long", dir);
        return -ENAMETOOLONG;
    }
    r = meter_state_load_newest(ret_path, device_id, &s, &main_state, err, errlen);
    if (r == -ENOENT) {
        meter_state_init(&s, device_id);
        fresh = true;
        err[0] = '\0';
    } else if (r) {
        return r;
    }
    if (s.boot == UINT32_MAX) {
        snprintf(err, errlen, "state file %s: boot counter exhausted", ret_path);
        return -EOVERFLOW;
    }
    s.boot++;
    if (damaged(main_state)) {
        /* Keep the evidence: the save below replaces the main file. */
        char corrupt[4096];
        int n = snprintf(corrupt, sizeof(corrupt), "%s.corrupt", ret_path);
        if (n < 0 || (size_t)n >= sizeof(corrupt)) {
            snprintf(err, errlen, "state directory %s: path too long", dir);
            return -ENAMETOOLONG;
        }
        if (rename(ret_path, corrupt)) {
            r = -errno;
            snprintf(err, errlen, "state file %s is damaged and cannot be moved aside: %s",
                     ret_path, strerror(-r));
            return r;
        }
        size_t used = strnlen(err, errlen);
        if (used + 1 < errlen)
            snprintf(err + used, errlen - used, "; the damaged file is kept as %s", corrupt);
    }
    r = meter_state_save(ret_path, &s);
    if (r) {
        snprintf(err, errlen, "state file %s: cannot write: %s", ret_path, strerror(-r));
        return r;
    }
    *ret = s;
    *ret_fresh = fresh;
    return 0;
}

uint64_t meter_state_next_seq(struct meter_state *s)
{
    return ++s->seq;
}

static void add_mwh(int64_t *counter, double *rem, double mwh)
{
    *rem += mwh;
    double whole = floor(*rem);
    *rem -= whole;
    if (whole >= (double)(METER_STATE_ENERGY_MAX_MWH - *counter))
        *counter = METER_STATE_ENERGY_MAX_MWH;
    else
        *counter += (int64_t)whole;
}

int meter_state_add_energy(struct meter_state *s, double energy_wh)
{
    if (!isfinite(energy_wh))
        return -EINVAL;
    if (energy_wh >= 0)
        add_mwh(&s->energy_import_mwh, &s->import_rem_mwh, energy_wh * 1000.0);
    else
        add_mwh(&s->energy_export_mwh, &s->export_rem_mwh, -energy_wh * 1000.0);
    return 0;
}

int meter_state_add_reactive(struct meter_state *s, double reactive_varh)
{
    if (!isfinite(reactive_varh))
        return -EINVAL;
    if (reactive_varh >= 0)
        add_mwh(&s->reactive_import_mvarh, &s->reactive_import_rem_mvarh, reactive_varh * 1000.0);
    else
        add_mwh(&s->reactive_export_mvarh, &s->reactive_export_rem_mvarh, -reactive_varh * 1000.0);
    return 0;
}

int meter_state_add_phase_import(struct meter_state *s, unsigned ph, double energy_wh)
{
    if (ph >= 3 || !isfinite(energy_wh) || energy_wh < 0)
        return -EINVAL;
    add_mwh(&s->energy_import_phase_mwh[ph], &s->import_phase_rem_mwh[ph], energy_wh * 1000.0);
    return 0;
}
