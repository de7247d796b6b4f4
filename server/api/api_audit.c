/* GET /api/audit: the audit log of operators' and admins' actions, newest first, in pages. */
#include <errno.h>

#include "api.h"
#include "api_query.h"

#define AUDIT_PAGE_DEFAULT 100
#define AUDIT_PAGE_MAX     1000

struct audit_page {
    struct jsonw *w;
    size_t n;
    int64_t last_id;
};

static int write_entry(const struct audit_rec *e, void *ctx)
{
    struct audit_page *p = ctx;
    struct jsonw *w = p->w;
    jsonw_obj_begin(w);
    jsonw_kint(w, "id", e->id);
    jsonw_ktime(w, "at", e->at_ms);
    jsonw_kstr(w, "actor", e->actor);
    jsonw_kstr(w, "action", e->action);
    jsonw_kstr(w, "target", e->target);
    jsonw_kstr(w, "address", e->address);
    jsonw_kstr(w, "detail", e->detail);
    jsonw_obj_end(w);
    p->n++;
    p->last_id = e->id;
    return 0;
}

void api_audit_list(struct api_call *c)
{
    int64_t limit = AUDIT_PAGE_DEFAULT, before = 0;
    const char *ls = http_query(c->req, "limit"), *bs = http_query(c->req, "before");
    if (ls && api_parse_count(ls, 1, AUDIT_PAGE_MAX, &limit)) {
        api_error(c, 400, "limit must be an integer from 1 to %d", AUDIT_PAGE_MAX);
        return;
    }
    if (bs && api_parse_count(bs, 1, INT64_MAX, &before)) {
        api_error(c, 400, "before must be an entry id (a positive integer)");
        return;
    }
    struct store *st = api_store(c);
    if (!st)
        return;
    struct jsonw w;
    struct audit_page page = {.w = &w};
    api_success(c, 200, &w);
    jsonw_key(&w, "entries");
    jsonw_arr_begin(&w);
    int r = api_store_result(c, store_audit_list(st, before, (size_t)limit, write_entry, &page));
    if (r) {
        api_store_error(c, r);
        return;
    }
    jsonw_arr_end(&w);
    /* The next page: entries before the last one here; null once this page was the last. */
    jsonw_key(&w, "next_before");
    if (page.n == (size_t)limit && page.last_id > 1)
        jsonw_int(&w, page.last_id);
    else
        jsonw_null(&w);
    jsonw_obj_end(&w);
    api_json_done(c, &w);
}
