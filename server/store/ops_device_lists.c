/*
 * ops_device_lists: the device list a fleet can page through (a keyset on
 * device_id with filters, and the count of what passes them), its fleet
 * counts, and bulk provisioning (store.h "Lists that scale").
 *
 * Each scope (every device, a user's) and set of filters has a statement of
 * its own, with only the conditions it uses, so the planner can take the
 * index a filter offers (site) or walk device_id's from the cursor and stop
 * after limit + 1 rows. Their text is built once; a connection prepares the
 * ones it runs.
 *
 * Two keys the store keeps beside what they are made of (migration 017) make
 * those walks short. A user's page walks user_devices by (user_id,
 * device_id), the binding's copy of the device's id, rather than every
 * device of the user joined and sorted. The search matches search_key,
 * LOWER() of the id and the name in one narrow column (ops_search_text()):
 * the whole fleet's page walks the index on (device_id, search_key), which
 * the planner is told to take ({INDEX}) since the unique index on device_id
 * alone looks cheaper to it and would read each device's row to test the
 * key, and the count scans that index without touching the rows.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "timeutil.h"

enum filter_bit {
    FB_STATUS = 1 << 0,  /* one parameter */
    FB_SITE = 1 << 1,    /* one */
    FB_BALANCE = 1 << 2, /* one */
    FB_ALARMS = 1 << 3,  /* none */
    FB_QUERY = 1 << 4,   /* one */
    FB__COMBOS = 1 << 5
};
_Static_assert(SQL_DEVICE_PAGE_LAST - SQL_DEVICE_PAGE + 1 == 2 * FB__COMBOS, "page statements");
_Static_assert(SQL_DEVICE_COUNT_LAST - SQL_DEVICE_COUNT + 1 == 2 * FB__COMBOS, "count statements");

#define PAGE_SELECT                                                                                \
    "SELECT d.id, d.device_id, d.secret_hash, d.balance, d.status, d.status_ms, d.created_ms, "    \
    "d.data_version, m.name, m.site "
/* A user's page walks their bindings in device_id order: b.device_id is d.device_id. */
#define PAGE_USER_FROM                                                                             \
    "FROM user_devices b JOIN devices d ON d.id = b.device_pk "                                    \
    "LEFT JOIN device_meta m ON m.device_pk = d.id WHERE b.user_id = ? AND b.device_id > ?"
#define PAGE_USER_ORDER " ORDER BY b.device_id LIMIT ?"
#define PAGE_ALL_FROM                                                                              \
    "FROM devices d LEFT JOIN device_meta m ON m.device_pk = d.id WHERE d.device_id > ?"
#define PAGE_ALL_SEARCH_FROM                                                                       \
    "FROM devices d {INDEX:devices_by_search_key} LEFT JOIN device_meta m ON m.device_pk = d.id "  \
    "WHERE d.device_id > ?"
#define PAGE_ALL_ORDER " ORDER BY d.device_id LIMIT ?"
#define PAGE_USER_JOIN "JOIN user_devices b ON b.device_pk = d.id AND b.user_id = ? "
#define PAGE_META_JOIN "LEFT JOIN device_meta m ON m.device_pk = d.id "
#define SQL_TEXT_MAX   1024

static pthread_once_t texts_once = PTHREAD_ONCE_INIT;
static char page_sql[2][FB__COMBOS][SQL_TEXT_MAX];
static char count_sql[2][FB__COMBOS][SQL_TEXT_MAX];

/* The conditions of mask, each starting with " AND"; '!' escapes LIKE's wildcards. */
static void add_conditions(char *out, size_t size, unsigned mask)
{
    size_t n = strlen(out);
    static const struct {
        unsigned bit;
        const char *sql;
    } cond[] = {
        {FB_STATUS, " AND d.status = ?"},
        {FB_SITE, " AND m.site = ?"},
        {FB_BALANCE, " AND d.balance < ?"},
        {FB_ALARMS, " AND EXISTS (SELECT 1 FROM alarms a WHERE a.device_id = d.device_id AND "
                    "a.state IN ('raised', 'acknowledged'))"},
        {FB_QUERY, " AND d.search_key LIKE ? ESCAPE '!'"},
    };
    for (size_t i = 0; i < sizeof(cond) / sizeof(cond[0]); i++)
        if (mask & cond[i].bit)
            n += (size_t)snprintf(out + n, size - n, "%s", cond[i].sql);
}

static void build_texts(void)
{
    for (int user = 0; user < 2; user++) {
        for (unsigned mask = 0; mask < FB__COMBOS; mask++) {
            char *p = page_sql[user][mask], *c = count_sql[user][mask];
            snprintf(p, SQL_TEXT_MAX, "%s%s", PAGE_SELECT,
                     user              ? PAGE_USER_FROM
                     : mask & FB_QUERY ? PAGE_ALL_SEARCH_FROM
                                       : PAGE_ALL_FROM);
            add_conditions(p, SQL_TEXT_MAX, mask);
            snprintf(p + strlen(p), SQL_TEXT_MAX - strlen(p), "%s",
                     user ? PAGE_USER_ORDER : PAGE_ALL_ORDER);
            if (mask == 0) {
                snprintf(c, SQL_TEXT_MAX, "%s",
                         user ? "SELECT COUNT(*) FROM user_devices WHERE user_id = ?"
                              : "SELECT COUNT(*) FROM devices");
                continue;
            }
            snprintf(c, SQL_TEXT_MAX, "SELECT COUNT(*) FROM devices d %s%sWHERE 1 = 1",
                     user ? PAGE_USER_JOIN : "", PAGE_META_JOIN);
            add_conditions(c, SQL_TEXT_MAX, mask);
        }
    }
}

void ops_search_text(const char *device_id, const char *name, char out[OPS_SEARCH_TEXT_MAX + 1])
{
    if (name && name[0])
        snprintf(out, OPS_SEARCH_TEXT_MAX + 1, "%s\n%s", device_id, name);
    else
        snprintf(out, OPS_SEARCH_TEXT_MAX + 1, "%s", device_id);
}

int ops_search_key_set(struct sql_store *q, int64_t device_pk, const char *device_id,
                       const char *name)
{
    struct db_stmt *st = NULL;
    char text[OPS_SEARCH_TEXT_MAX + 1];
    int r = sql_stmt(q, SQL_SEARCH_KEY_SET, "UPDATE devices SET search_key = LOWER(?) WHERE id = ?",
                     NULL, &st);
    if (r)
        return r;
    ops_search_text(device_id, name, text);
    db_bind_text(st, text);
    db_bind_int(st, device_pk);
    return sql_run(q, st, "set search key");
}

static unsigned filter_mask(const struct device_filter *f)
{
    return (f->has_status ? FB_STATUS : 0) | (f->site ? FB_SITE : 0) |
           (f->has_balance_below ? FB_BALANCE : 0) | (f->open_alarms ? FB_ALARMS : 0) |
           (f->query && f->query[0] ? FB_QUERY : 0);
}

/* "%query%", ASCII lower case, with %, _ and ! escaped by '!'. */
static void like_pattern(const char *query, char out[2 * DEVICE_QUERY_BYTES_MAX + 3])
{
    size_t n = 0;
    out[n++] = '%';
    for (const char *p = query; *p && n < 2 * DEVICE_QUERY_BYTES_MAX + 1; p++) {
        char ch = *p;
        if (ch == '%' || ch == '_' || ch == '!')
            out[n++] = '!';
        out[n++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
    }
    out[n++] = '%';
    out[n] = '\0';
}

/* The statement of scope and f, its scope and filters bound (like must outlive its run). */
static int filtered_stmt(struct sql_store *q, bool count, int64_t user_id,
                         const struct device_filter *f, const char *after,
                         char like[2 * DEVICE_QUERY_BYTES_MAX + 3], struct db_stmt **ret)
{
    pthread_once(&texts_once, build_texts);
    unsigned mask = filter_mask(f);
    int user = user_id != 0;
    struct db_stmt *st = NULL;
    int r = count ? sql_stmt(q, (enum sql_id)(SQL_DEVICE_COUNT + user * FB__COMBOS + mask),
                             count_sql[user][mask], NULL, &st)
                  : sql_stmt(q, (enum sql_id)(SQL_DEVICE_PAGE + user * FB__COMBOS + mask),
                             page_sql[user][mask], NULL, &st);
    if (r)
        return r;
    if (user)
        db_bind_int(st, user_id);
    if (!count)
        db_bind_text(st, after);
    if (mask & FB_STATUS)
        db_bind_text(st, device_status_name(f->status));
    if (mask & FB_SITE)
        db_bind_text(st, f->site);
    if (mask & FB_BALANCE)
        db_bind_money(st, f->balance_below_fen);
    if (mask & FB_QUERY) {
        like_pattern(f->query, like);
        db_bind_text(st, like);
    }
    *ret = st;
    return 0;
}

static int read_item(struct sql_store *q, struct db_stmt *st, struct device_page_item *it)
{
    memset(it, 0, sizeof(*it));
    int r = ops_read_device(q, st, &it->d);
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
    char like[2 * DEVICE_QUERY_BYTES_MAX + 3];
    int r = filtered_stmt(q, false, user_id, f, after, like, &st);
    if (r)
        return r;
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
    char like[2 * DEVICE_QUERY_BYTES_MAX + 3];
    int r = filtered_stmt(q, true, user_id, f, "", like, &st);
    if (!r)
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

/* The owner of the row before, looked up once for a run of rows with the same owner. */
struct owner_memo {
    const char *name;
    int64_t id;
};

/* One row of an import, in the open transaction. */
static int import_row(struct sql_store *q, const struct device_import_row *row, const char *by,
                      int64_t now_ms, struct owner_memo *memo)
{
    struct store *s = &q->base;
    struct db_stmt *owner = NULL, *dev = NULL, *meta = NULL;
    int r = sql_stmt(q, SQL_IMPORT_OWNER, "SELECT id FROM users WHERE username = ?", NULL, &owner);
    if (!r)
        r = sql_stmt(q, SQL_IMPORT_DEVICE,
                     "INSERT INTO devices (device_id, secret_hash, created_ms, search_key) "
                     "VALUES (?, ?, ?, LOWER(?))",
                     NULL, &dev);
    if (!r)
        r = sql_stmt(q, SQL_IMPORT_META,
                     "INSERT INTO device_meta (device_pk, name, site, updated_ms, updated_by) "
                     "VALUES (?, ?, ?, ?, ?)",
                     NULL, &meta);
    if (r)
        return r;
    int64_t owner_id = 0;
    if (row->owner && memo->name && strcmp(memo->name, row->owner) == 0) {
        owner_id = memo->id;
    } else if (row->owner) {
        db_bind_text(owner, row->owner);
        r = sql_row(q, owner, "find owner", "no such user");
        if (r == -ENOENT)
            return store_fail(s, r, "owner '%s' is not a user", row->owner);
        if (r)
            return r;
        owner_id = db_col_int(owner, 0);
        db_reset(owner);
        *memo = (struct owner_memo){.name = row->owner, .id = owner_id};
    }
    char search[OPS_SEARCH_TEXT_MAX + 1];
    ops_search_text(row->device_id, row->name, search);
    db_bind_text(dev, row->device_id);
    db_bind_text(dev, row->secret_hash);
    db_bind_int(dev, now_ms);
    db_bind_text(dev, search);
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
    struct owner_memo memo = {0};
    for (size_t i = 0; i < n && !r; i++) {
        r = import_row(q, &rows[i], by ? by : "", now_ms, &memo);
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
