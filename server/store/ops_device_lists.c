/*
 * ops_device_lists: the device list a fleet can page through (a keyset on
 * device_id with filters, and the count of what passes them), its fleet
 * counts, and bulk provisioning (store.h "Lists that scale").
 *
 * Every filter is in one statement as "(? IS NULL OR ...)": a filter left
 * unset binds NULL (or 0) and costs a comparison per row, while the page
 * walks the device_id index from its key and stops after limit + 1 rows.
 */
#include <errno.h>
#include <string.h>

#include "ops.h"
#include "timeutil.h"

#define PAGE_SELECT                                                                                \
    "SELECT d.id, d.device_id, d.secret_hash, d.balance, d.status, d.status_ms, d.created_ms, "    \
    "d.data_version, m.name, m.site FROM devices d "
#define PAGE_META_JOIN "LEFT JOIN device_meta m ON m.device_pk = d.id "
#define PAGE_USER_JOIN "JOIN user_devices b ON b.device_pk = d.id AND b.user_id = ? "
/* The filters, bound by bind_filter() in this order. '!' escapes LIKE's wildcards. */
#define PAGE_FILTER                                                                                \
    "(? IS NULL OR d.status = ?) AND (? IS NULL OR m.site = ?) AND "                               \
    "(? = 0 OR d.balance < ?) AND "                                                                \
    "(? = 0 OR EXISTS (SELECT 1 FROM alarms a WHERE a.device_id = d.device_id AND "                \
    "a.state IN ('raised', 'acknowledged'))) AND "                                                 \
    "(? IS NULL OR LOWER(d.device_id) LIKE ? ESCAPE '!' OR LOWER(m.name) LIKE ? ESCAPE '!') "

/* "%query%", ASCII lower case, with %, _ and ! escaped by '!'. */
static void like_pattern(const char *query, char out[2 * DEVICE_QUERY_MAX + 3])
{
    size_t n = 0;
    out[n++] = '%';
    for (const char *p = query; *p && n < 2 * DEVICE_QUERY_MAX + 1; p++) {
        char ch = *p;
        if (ch == '%' || ch == '_' || ch == '!')
            out[n++] = '!';
        out[n++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[n++] = '%';
    out[n] = '\0';
}

static bool filter_empty(const struct device_filter *f)
{
    return !f->has_status && !f->site && !f->has_balance_below && !f->open_alarms &&
           !(f->query && f->query[0]);
}

/* like must outlive the statement's run: the drivers bind text by reference. */
static void bind_filter(struct db_stmt *st, const struct device_filter *f,
                        char like[2 * DEVICE_QUERY_MAX + 3])
{
    for (int i = 0; i < 2; i++) {
        if (f->has_status)
            db_bind_text(st, device_status_name(f->status));
        else
            db_bind_null(st);
    }
    for (int i = 0; i < 2; i++) {
        if (f->site)
            db_bind_text(st, f->site);
        else
            db_bind_null(st);
    }
    db_bind_int(st, f->has_balance_below);
    db_bind_money(st, f->has_balance_below ? f->balance_below_fen : 0);
    db_bind_int(st, f->open_alarms);
    bool q = f->query && f->query[0];
    if (q)
        like_pattern(f->query, like);
    for (int i = 0; i < 3; i++) {
        if (q)
            db_bind_text(st, like);
        else
            db_bind_null(st);
    }
}

static int read_item(struct sql_store *q, struct db_stmt *st, struct device_page_item *it)
{
    char status[16];
    memset(it, 0, sizeof(*it));
    struct device_rec *d = &it->d;
    d->id = db_col_int(st, 0);
    int r = sql_text(q, st, 1, d->device_id, sizeof(d->device_id));
    if (!r)
        r = sql_text(q, st, 2, d->secret_hash, sizeof(d->secret_hash));
    if (!r && (r = db_col_money(st, 3, &d->balance_fen)))
        r = sql_fail(q, r, "read balance");
    if (!r)
        r = sql_text(q, st, 4, status, sizeof(status));
    d->status = DEVICE_STATUS_UNKNOWN;
    if (!r && strcmp(status, "online") == 0)
        d->status = DEVICE_STATUS_ONLINE;
    else if (!r && strcmp(status, "offline") == 0)
        d->status = DEVICE_STATUS_OFFLINE;
    d->status_ms = db_col_int(st, 5);
    d->created_ms = db_col_int(st, 6);
    d->data_version = db_col_int(st, 7);
    if (!r && !db_is_null(st, 8)) {
        r = sql_text(q, st, 8, it->names.name, sizeof(it->names.name));
        it->names.present |= DM_BIT(DM_NAME);
    }
    if (!r && !db_is_null(st, 9)) {
        r = sql_text(q, st, 9, it->names.site, sizeof(it->names.site));
        it->names.present |= DM_BIT(DM_SITE);
    }
    return r;
}

int ops_device_page(struct store *s, int64_t user_id, const struct device_filter *f,
                    const char *after, size_t limit, store_device_page_cb cb, void *ctx,
                    bool *ret_more)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    char like[2 * DEVICE_QUERY_MAX + 3];
    int r = user_id
                ? sql_stmt(q, SQL_DEVICE_PAGE_USER,
                           PAGE_SELECT PAGE_USER_JOIN PAGE_META_JOIN
                           "WHERE d.device_id > ? AND " PAGE_FILTER "ORDER BY d.device_id LIMIT ?",
                           NULL, &st)
                : sql_stmt(q, SQL_DEVICE_PAGE_ALL,
                           PAGE_SELECT PAGE_META_JOIN "WHERE d.device_id > ? AND " PAGE_FILTER
                                                      "ORDER BY d.device_id LIMIT ?",
                           NULL, &st);
    if (r)
        return r;
    if (user_id)
        db_bind_int(st, user_id);
    db_bind_text(st, after);
    bind_filter(st, f, like);
    sql_bind_limit(st, limit + 1);
    size_t n = 0;
    bool more = false;
    while ((r = sql_step(q, st, "list devices")) == 1) {
        if (n == limit) {
            more = true;
            break;
        }
        struct device_page_item it;
        r = read_item(q, st, &it);
        if (!r)
            r = cb(&it, ctx);
        if (r)
            break;
        n++;
    }
    db_reset(st);
    if (r < 0)
        return r;
    if (ret_more)
        *ret_more = more;
    return 0;
}

int ops_device_count(struct store *s, int64_t user_id, const struct device_filter *f,
                     int64_t *ret_total)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL;
    char like[2 * DEVICE_QUERY_MAX + 3];
    bool plain = filter_empty(f);
    int r;
    if (plain)
        r = user_id ? sql_stmt(q, SQL_DEVICE_COUNT_PLAIN_USER,
                               "SELECT COUNT(*) FROM user_devices WHERE user_id = ?", NULL, &st)
                    : sql_stmt(q, SQL_DEVICE_COUNT_PLAIN_ALL, "SELECT COUNT(*) FROM devices", NULL,
                               &st);
    else
        r = user_id
                ? sql_stmt(q, SQL_DEVICE_COUNT_USER,
                           "SELECT COUNT(*) FROM devices d " PAGE_USER_JOIN PAGE_META_JOIN
                           "WHERE " PAGE_FILTER,
                           NULL, &st)
                : sql_stmt(q, SQL_DEVICE_COUNT_ALL,
                           "SELECT COUNT(*) FROM devices d " PAGE_META_JOIN "WHERE " PAGE_FILTER,
                           NULL, &st);
    if (r)
        return r;
    if (user_id)
        db_bind_int(st, user_id);
    if (!plain)
        bind_filter(st, f, like);
    r = sql_row(q, st, "count devices", "no count");
    if (r)
        return r;
    *ret_total = db_col_int(st, 0);
    db_reset(st);
    return 0;
}

int ops_device_summary(struct store *s, int64_t user_id, struct device_summary *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *st = NULL, *alarms = NULL;
    /* COUNT of a CASE: an integer in both dialects (MySQL's SUM would be a DECIMAL). */
    int r = sql_stmt(q, SQL_DEVICE_SUMMARY,
                     "SELECT COUNT(*), COUNT(CASE WHEN d.status = 'online' THEN 1 END), "
                     "COUNT(CASE WHEN d.status = 'offline' THEN 1 END), "
                     "COUNT(CASE WHEN d.balance <= COALESCE(bs.cutoff_at, ?) THEN 1 END) "
                     "FROM devices d LEFT JOIN billing_settings bs ON bs.device_pk = d.id "
                     "WHERE (? = 0 OR d.id IN (SELECT b.device_pk FROM user_devices b "
                     "WHERE b.user_id = ?))",
                     NULL, &st);
    if (!r)
        r = sql_stmt(q, SQL_DEVICE_SUMMARY_ALARMS,
                     "SELECT COUNT(DISTINCT d.id), COUNT(*) FROM alarms a "
                     "JOIN devices d ON d.device_id = a.device_id "
                     "WHERE a.state IN ('raised', 'acknowledged') AND "
                     "(? = 0 OR d.id IN (SELECT b.device_pk FROM user_devices b "
                     "WHERE b.user_id = ?))",
                     NULL, &alarms);
    if (r)
        return r;
    struct device_summary out = {0};
    db_bind_money(st, BILLING_CUTOFF_AT_DEFAULT_FEN);
    db_bind_int(st, user_id);
    db_bind_int(st, user_id);
    r = sql_row(q, st, "count the fleet", "no count");
    if (r)
        return r;
    out.total = db_col_int(st, 0);
    out.online = db_col_int(st, 1);
    out.offline = db_col_int(st, 2);
    out.unknown = out.total - out.online - out.offline;
    out.in_arrears = db_col_int(st, 3);
    db_reset(st);
    db_bind_int(alarms, user_id);
    db_bind_int(alarms, user_id);
    r = sql_row(q, alarms, "count open alarms", "no count");
    if (r)
        return r;
    out.with_open_alarms = db_col_int(alarms, 0);
    out.open_alarms = db_col_int(alarms, 1);
    db_reset(alarms);
    *ret = out;
    return 0;
}

/* One row of an import, in the open transaction. */
static int import_row(struct sql_store *q, const struct device_import_row *row, const char *by,
                      int64_t now_ms)
{
    struct store *s = &q->base;
    struct db_stmt *owner = NULL, *dev = NULL, *meta = NULL;
    int r = sql_stmt(q, SQL_IMPORT_OWNER, "SELECT id FROM users WHERE username = ?", NULL, &owner);
    if (!r)
        r = sql_stmt(q, SQL_IMPORT_DEVICE,
                     "INSERT INTO devices (device_id, secret_hash, created_ms) VALUES (?, ?, ?)",
                     NULL, &dev);
    if (!r)
        r = sql_stmt(q, SQL_IMPORT_META,
                     "INSERT INTO device_meta (device_pk, name, site, updated_ms, updated_by) "
                     "VALUES (?, ?, ?, ?, ?)",
                     NULL, &meta);
    if (r)
        return r;
    int64_t owner_id = 0;
    if (row->owner) {
        db_bind_text(owner, row->owner);
        r = sql_row(q, owner, "find owner", "no such user");
        if (r == -ENOENT)
            return store_fail(s, r, "owner '%s' is not a user", row->owner);
        if (r)
            return r;
        owner_id = db_col_int(owner, 0);
        db_reset(owner);
    }
    db_bind_text(dev, row->device_id);
    db_bind_text(dev, row->secret_hash);
    db_bind_int(dev, now_ms);
    r = sql_run(q, dev, "add device");
    if (r == -EEXIST)
        return store_fail(s, r, "device '%s' already exists", row->device_id);
    if (r)
        return r;
    int64_t pk = db_last_id(dev);
    if (owner_id && (r = ops_binding_add(s, owner_id, pk)))
        return r;
    if (row->name || row->site) {
        db_bind_int(meta, pk);
        if (row->name)
            db_bind_text(meta, row->name);
        else
            db_bind_null(meta);
        if (row->site)
            db_bind_text(meta, row->site);
        else
            db_bind_null(meta);
        db_bind_int(meta, now_ms);
        db_bind_text(meta, by);
        if ((r = sql_run(q, meta, "add device metadata")))
            return r;
    }
    /* The broker's accounts follow device_changes (store.h): each new device is one. */
    return ops_device_change_log(q, row->device_id);
}

int ops_devices_import(struct store *s, const struct device_import_row *rows, size_t n,
                       const char *by, size_t *ret_bad)
{
    struct sql_store *q = SQL(s);
    int r = sql_begin(q);
    if (r)
        return r;
    int64_t now_ms = time_now_ms();
    size_t bad = n;
    for (size_t i = 0; i < n && !r; i++) {
        r = import_row(q, &rows[i], by ? by : "", now_ms);
        if (r)
            bad = i;
    }
    if (!r)
        r = sql_commit(q);
    if (r) {
        sql_rollback(q);
        *ret_bad = bad;
    }
    return r;
}
