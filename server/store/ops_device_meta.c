/* ops_device_meta: a device's metadata (store.h "Device metadata", device_meta.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ops.h"

/* Statement text from the field table, so the columns follow device_meta.c's order. */
static char *build_get(unsigned rows)
{
    (void)rows;
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "SELECT ");
    for (int f = 0; f < DM__COUNT; f++)
        sql_add(&b, "%s, ", device_meta_desc((enum device_meta_field)f)->name);
    sql_add(&b, "updated_ms, updated_by FROM device_meta WHERE device_pk = ?");
    return sql_buf_end(&b);
}

/* Both bind the fields in the table's order, then updated_ms, updated_by, device_pk. A plain
   UPDATE or INSERT rather than an upsert: MariaDB's ON DUPLICATE KEY would also fire on the
   (dtu_id, modbus_unit) key and change the other device's row. */
static char *build_insert(unsigned rows)
{
    (void)rows;
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "INSERT INTO device_meta (");
    for (int f = 0; f < DM__COUNT; f++)
        sql_add(&b, "%s, ", device_meta_desc((enum device_meta_field)f)->name);
    sql_add(&b, "updated_ms, updated_by, device_pk) VALUES (");
    for (int f = 0; f < DM__COUNT; f++)
        sql_add(&b, "?, ");
    sql_add(&b, "?, ?, ?)");
    return sql_buf_end(&b);
}

static char *build_update(unsigned rows)
{
    (void)rows;
    struct sql_buf b;
    sql_buf_init(&b);
    sql_add(&b, "UPDATE device_meta SET ");
    for (int f = 0; f < DM__COUNT; f++)
        sql_add(&b, "%s = ?, ", device_meta_desc((enum device_meta_field)f)->name);
    sql_add(&b, "updated_ms = ?, updated_by = ? WHERE device_pk = ?");
    return sql_buf_end(&b);
}

/* Reads the row of device_pk into *ret (present 0 when there is none): 1 with a row, 0 without. */
static int meta_read(struct sql_store *q, int64_t device_pk, struct device_meta *ret)
{
    struct db_stmt *st = NULL;
    memset(ret, 0, sizeof(*ret));
    int r = sql_stmt(q, SQL_DEVICE_META_GET, NULL, build_get, &st);
    if (r)
        return r;
    db_bind_int(st, device_pk);
    r = sql_step(q, st, "get device metadata");
    if (r <= 0) {
        db_reset(st);
        return r;
    }
    char err[DEVICE_META_ERR_LEN];
    r = 0;
    for (int k = 0; !r && k < DM__COUNT; k++) {
        enum device_meta_field f = (enum device_meta_field)k;
        if (db_is_null(st, (unsigned)k))
            continue;
        const struct device_meta_desc *d = device_meta_desc(f);
        if (d->type == DMT_TEXT) {
            char text[4 * DEVICE_META_ADDRESS_MAX + 1];
            r = sql_text(q, st, (unsigned)k, text, sizeof(text));
            if (!r)
                r = device_meta_set_text(ret, f, text, err);
        } else {
            double v = d->type == DMT_INT ? (double)db_col_int(st, (unsigned)k)
                                          : db_col_double(st, (unsigned)k);
            r = device_meta_set_number(ret, f, v, err);
        }
        /* A value out of bounds (written by hand) reads as not told. */
        if (r == -EINVAL) {
            device_meta_clear(ret, f);
            r = 0;
        }
    }
    ret->updated_ms = db_col_int(st, DM__COUNT);
    if (!r)
        r = sql_text(q, st, DM__COUNT + 1, ret->updated_by, sizeof(ret->updated_by));
    db_reset(st);
    return r ? r : 1;
}

int ops_device_meta_get(struct store *s, int64_t device_pk, struct device_meta *ret)
{
    int r = meta_read(SQL(s), device_pk, ret);
    return r > 0 ? 0 : r;
}

int ops_device_meta_update(struct store *s, int64_t device_pk, const struct device_meta *set,
                           uint32_t clear_mask, const char *actor, int64_t now_ms,
                           struct device_meta *ret)
{
    struct sql_store *q = SQL(s);
    struct db_stmt *lock = NULL, *put = NULL;
    struct device_meta m;
    char err[DEVICE_META_ERR_LEN];
    char device_id[DEVICE_ID_MAX + 1] = "";
    int r = sql_stmt(q, SQL_DEVICE_META_LOCK,
                     "SELECT device_id FROM devices WHERE id = ? {FOR_UPDATE}", NULL, &lock);
    if (!r)
        r = sql_begin(q);
    if (r)
        return r;
    db_bind_int(lock, device_pk);
    r = sql_row(q, lock, "lock device", "device not found");
    if (!r)
        r = sql_text(q, lock, 0, device_id, sizeof(device_id));
    db_reset(lock);
    int had = r ? r : meta_read(q, device_pk, &m);
    if (had < 0) {
        r = had;
        goto out;
    }
    /* Prepared inside the transaction: the statement cache may prepare on first use. */
    r = had ? sql_stmt(q, SQL_DEVICE_META_UPDATE, NULL, build_update, &put)
            : sql_stmt(q, SQL_DEVICE_META_INSERT, NULL, build_insert, &put);
    if (r)
        goto out;
    for (int k = 0; k < DM__COUNT; k++) {
        enum device_meta_field f = (enum device_meta_field)k;
        if (clear_mask & DM_BIT(f))
            device_meta_clear(&m, f);
        if (!(set->present & DM_BIT(f)))
            continue;
        r = device_meta_desc(f)->type == DMT_TEXT
                ? device_meta_set_text(&m, f, device_meta_text(set, f), err)
                : device_meta_set_number(&m, f, device_meta_number(set, f), err);
        if (r) {
            r = store_fail(s, r, "%s", err);
            goto out;
        }
    }
    m.updated_ms = now_ms;
    snprintf(m.updated_by, sizeof(m.updated_by), "%s", actor);
    for (int k = 0; k < DM__COUNT; k++) {
        enum device_meta_field f = (enum device_meta_field)k;
        enum device_meta_type t = device_meta_desc(f)->type;
        if (!(m.present & DM_BIT(f)))
            db_bind_null(put);
        else if (t == DMT_TEXT)
            db_bind_text(put, device_meta_text(&m, f));
        else if (t == DMT_INT)
            db_bind_int(put, (int64_t)device_meta_number(&m, f));
        else
            db_bind_double(put, device_meta_number(&m, f));
    }
    db_bind_int(put, m.updated_ms);
    db_bind_text(put, m.updated_by);
    db_bind_int(put, device_pk);
    r = sql_run(q, put, "save device metadata");
    if (r == -EEXIST)
        store_fail(s, r, "another device has dtu_id '%s' and modbus_unit %d", m.dtu_id,
                   (int)m.modbus_unit);
    if (!r)
        r = ops_search_key_set(q, device_pk, device_id,
                               (m.present & DM_BIT(DM_NAME)) ? m.name : NULL);
out:
    if (!r)
        r = sql_commit(q);
    if (r)
        sql_rollback(q);
    else if (ret)
        *ret = m;
    return r;
}
