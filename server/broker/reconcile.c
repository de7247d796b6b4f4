/*
 * reconcile: bringing the broker's accounts in step with the devices table
 * (broker.h): all of them, one device, or the devices the change log names,
 * through the plan (plan.h) sent as requests to the plugin (dynsec.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_internal.h"
#include "log.h"
#include "plan.h"

#define GAP_WAIT_MS 10000 /* an id missing from the log may be a transaction still open */
#define LIST_PAGE   500   /* accounts per listing request */

/* --- applying a plan ----------------------------------------------------------------------- */

/* Steps of a plan, sent DYNSEC_BATCH at a time; failures are counted, the rest goes on. */
struct applier {
    struct broker *b;
    struct dynsec_request rq;
    const char *names[DYNSEC_BATCH]; /* what each command of rq is about, for the log */
    enum plan_op ops[DYNSEC_BATCH];
    int failed;   /* requests not answered */
    bool verbose; /* one device's change: each account change is logged */
};

static const char *op_name(enum plan_op op)
{
    switch (op) {
    case PLAN_CREATE_ROLE:
        return "create role";
    case PLAN_MODIFY_ROLE:
        return "update role";
    case PLAN_CREATE_CLIENT:
        return "create account";
    case PLAN_MODIFY_CLIENT:
        return "update account";
    case PLAN_ENABLE_CLIENT:
        return "enable account";
    case PLAN_DELETE_CLIENT:
        return "delete account";
    case PLAN_DELETE_ROLE:
        return "delete role";
    default:
        return "?";
    }
}

static int flush(struct applier *a)
{
    if (a->rq.n == 0)
        return 0;
    json_t *responses = NULL;
    char what[128];
    size_t n = a->rq.n;
    int r = broker_call(a->b, &a->rq, &responses);
    dynsec_request_free(&a->rq);
    broker_request_init(a->b, &a->rq);
    if (r) {
        snprintf(what, sizeof(what), "%zu account changes not confirmed", n);
        broker_count_error(a->b, what, strerror(-r));
        a->failed++;
        return 0;
    }
    for (size_t k = 0; k < n; k++) {
        const char *err = broker_response_error(responses, k);
        if (err) {
            snprintf(what, sizeof(what), "cannot %s %s", op_name(a->ops[k]), a->names[k]);
            broker_count_error(a->b, what, err);
            continue;
        }
        if (a->verbose && a->ops[k] != PLAN_CREATE_ROLE && a->ops[k] != PLAN_MODIFY_ROLE &&
            a->ops[k] != PLAN_DELETE_ROLE)
            log_info("broker: %s %s", op_name(a->ops[k]), a->names[k]);
        if (a->ops[k] == PLAN_CREATE_CLIENT)
            atomic_fetch_add(&a->b->created, 1);
        else if (a->ops[k] == PLAN_MODIFY_CLIENT || a->ops[k] == PLAN_ENABLE_CLIENT)
            atomic_fetch_add(&a->b->updated, 1);
        else if (a->ops[k] == PLAN_DELETE_CLIENT)
            atomic_fetch_add(&a->b->deleted, 1);
    }
    json_decref(responses);
    return 0;
}

static int apply_step(void *ctx, const struct plan_step *s)
{
    struct applier *a = ctx;
    struct broker *b = a->b;
    struct dynsec_acl acls[DYNSEC_ACLS_MAX];
    char description[DYNSEC_DESC_MAX + 32];
    int r = 0;
    switch (s->op) {
    case PLAN_COLLISION:
        atomic_fetch_add(&b->collisions, 1);
        log_error("broker: device %s cannot have a broker account: '%s' is an account (or role) "
                  "this server does not manage; the meter cannot log in until it is renamed",
                  s->name, s->name);
        return 0;
    case PLAN_CREATE_ROLE:
    case PLAN_MODIFY_ROLE:
        snprintf(description, sizeof(description), "%sdevice role", b->prefix);
        r = dynsec_role_put(&a->rq, s->op == PLAN_CREATE_ROLE, s->name, description, acls,
                            dynsec_device_acls(s->dev->id, acls));
        break;
    case PLAN_CREATE_CLIENT:
    case PLAN_MODIFY_CLIENT:
        r = dynsec_device_put(&a->rq, s->op == PLAN_CREATE_CLIENT, s->dev);
        break;
    case PLAN_ENABLE_CLIENT:
        r = dynsec_enable_client(&a->rq, s->name);
        break;
    case PLAN_DELETE_CLIENT:
        r = dynsec_delete(&a->rq, "deleteClient", "username", s->name);
        break;
    case PLAN_DELETE_ROLE:
        r = dynsec_delete(&a->rq, "deleteRole", "rolename", s->name);
        break;
    }
    if (r)
        return r;
    a->names[a->rq.n - 1] = s->name;
    a->ops[a->rq.n - 1] = s->op;
    if (s->op != PLAN_CREATE_ROLE && s->op != PLAN_MODIFY_ROLE && s->op != PLAN_DELETE_ROLE &&
        b->device_changed)
        b->device_changed(b->changed_ctx, s->name);
    return a->rq.n == DYNSEC_BATCH ? flush(a) : 0;
}

/* Brings the listed accounts in step with want. Returns 0, or -errno when requests failed. */
static int apply(struct broker *b, const struct dynsec_device *want, size_t n,
                 const json_t *clients, const json_t *roles, bool verbose)
{
    struct applier a = {.b = b, .verbose = verbose};
    broker_request_init(b, &a.rq);
    int r = plan_accounts(b->prefix, want, n, clients, roles, apply_step, &a);
    if (!r)
        r = flush(&a);
    dynsec_request_free(&a.rq);
    return r ? r : a.failed ? -EIO : 0;
}

/* The accounts every device of the database needs. */
struct wanted {
    struct broker *b;
    struct dynsec_device *d;
    size_t n, cap;
};

static int want_device(const struct device_rec *rec, void *ctx)
{
    struct wanted *w = ctx;
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 256;
        struct dynsec_device *d = realloc(w->d, cap * sizeof(*d));
        if (!d)
            return -ENOMEM;
        w->d = d;
        w->cap = cap;
    }
    if (dynsec_device_expect(w->b->user, rec->device_id, rec->secret_hash, &w->d[w->n]))
        log_error("broker: device %s has an unusable secret hash; no broker account",
                  rec->device_id);
    else
        w->n++;
    return 0;
}

static void wanted_free(struct wanted *w)
{
    if (w->d)
        explicit_bzero(w->d, w->cap * sizeof(*w->d));
    free(w->d);
}

/* --- full reconciliation ------------------------------------------------------------------- */

/*
 * The server's own role and the default access. Returns 0, 1 when the
 * server's account still needs its role (added last: that drops our own
 * connection), or -errno.
 */
static int ensure_server(struct broker *b)
{
    struct dynsec_request rq;
    struct dynsec_acl acls[DYNSEC_ACLS_MAX];
    size_t n_acls = dynsec_server_acls(acls);
    json_t *ans = NULL;
    char description[DYNSEC_DESC_MAX + 32];
    broker_request_init(b, &rq);
    int r = dynsec_get(&rq, "getRole", "rolename", DYNSEC_SERVER_ROLE);
    if (!r)
        r = dynsec_get(&rq, "getClient", "username", b->user);
    if (!r)
        r = dynsec_default_acl_get(&rq);
    if (!r)
        r = broker_call(b, &rq, &ans);
    dynsec_request_free(&rq);
    if (r)
        return r;
    const json_t *role = broker_response_data(ans, 0, "role");
    const json_t *self = broker_response_data(ans, 1, "client");
    bool access_ok = dynsec_default_acl_ok(json_object_get(json_array_get(ans, 2), "data"));
    bool has_role = false;
    size_t i;
    const json_t *o;
    json_array_foreach(json_object_get(self, "roles"), i, o)
    {
        const char *name = json_string_value(json_object_get(o, "rolename"));
        has_role = has_role || (name && strcmp(name, DYNSEC_SERVER_ROLE) == 0);
    }
    if (!self)
        log_warn("broker: the server's account '%s' is not one of the broker's dynamic-security "
                 "clients; its rights come from elsewhere",
                 b->user);
    broker_request_init(b, &rq);
    snprintf(description, sizeof(description), "%sthe server's role", b->prefix);
    if (!role)
        r = dynsec_role_put(&rq, true, DYNSEC_SERVER_ROLE, description, acls, n_acls);
    else if (!dynsec_acls_equal(json_object_get(role, "acls"), acls, n_acls))
        r = dynsec_role_put(&rq, false, DYNSEC_SERVER_ROLE, description, acls, n_acls);
    if (!r && !access_ok)
        r = dynsec_default_acl_set(&rq);
    json_decref(ans);
    ans = NULL;
    if (!r && rq.n > 0 && !(r = broker_call(b, &rq, &ans))) {
        for (size_t k = 0; k < rq.n; k++)
            if (broker_response_error(ans, k))
                broker_count_error(b, "cannot set up the server's role and the default access",
                                   broker_response_error(ans, k));
        json_decref(ans);
        log_info("broker: the server's role %s and deny-by-default access set up",
                 DYNSEC_SERVER_ROLE);
    }
    dynsec_request_free(&rq);
    if (r)
        return r;
    return self && !has_role ? 1 : 0;
}

/* Every verbose client or role (command listClients or listRoles) in one array, into *ret. */
static int list_all(struct broker *b, const char *command, const char *key, json_t **ret)
{
    json_t *all = json_array();
    int r = all ? 0 : -ENOMEM;
    for (int offset = 0; !r;) {
        struct dynsec_request rq;
        json_t *ans = NULL;
        broker_request_init(b, &rq);
        r = dynsec_list(&rq, command, LIST_PAGE, offset);
        if (!r)
            r = broker_call(b, &rq, &ans);
        dynsec_request_free(&rq);
        if (r)
            break;
        const json_t *page = broker_response_data(ans, 0, key);
        size_t got = json_array_size(page);
        if (broker_response_error(ans, 0) || !json_is_array(page))
            r = -EPROTO;
        else if (json_array_extend(all, (json_t *)page))
            r = -ENOMEM;
        json_decref(ans);
        offset += (int)got;
        if (got < LIST_PAGE)
            break;
    }
    if (r)
        json_decref(all);
    else
        *ret = all;
    return r;
}

int broker_full_reconcile(struct broker *b)
{
    struct wanted w = {.b = b};
    json_t *clients = NULL, *roles = NULL;
    int64_t mark = 0;
    struct store *st = broker_store(b);
    if (!st)
        return -ENOTCONN;
    /* The log's mark first: what changes while we list is applied after, one by one. */
    int r = store_device_changes_latest(st, &mark);
    if (r)
        return broker_store_trouble(b, r, "reading the change log");
    int self = ensure_server(b);
    if (self < 0)
        return self;
    r = store_device_list(st, 0, want_device, &w);
    if (r) {
        wanted_free(&w);
        return r == -ENOMEM ? r : broker_store_trouble(b, r, "listing devices");
    }
    r = list_all(b, "listClients", "clients", &clients);
    if (!r)
        r = list_all(b, "listRoles", "roles", &roles);
    uint64_t created = atomic_load(&b->created), updated = atomic_load(&b->updated),
             deleted = atomic_load(&b->deleted), errors = atomic_load(&b->errors);
    if (!r)
        r = apply(b, w.d, w.n, clients, roles, false);
    if (!r) {
        b->watermark = mark;
        b->n_done = 0;
        b->gap_since_ms = 0;
        atomic_store(&b->devices, w.n);
        atomic_fetch_add(&b->reconciliations, 1);
        atomic_store(&b->in_step, atomic_load(&b->errors) == errors);
        log_info("broker: %zu device accounts in step (%" PRIu64 " created, %" PRIu64
                 " updated, %" PRIu64 " deleted)",
                 w.n, atomic_load(&b->created) - created, atomic_load(&b->updated) - updated,
                 atomic_load(&b->deleted) - deleted);
    }
    json_decref(clients);
    json_decref(roles);
    wanted_free(&w);
    if (!r && self == 1) {
        /* Last: the broker drops our connection to apply it; the reconnect reconciles again. */
        struct dynsec_request rq;
        size_t len;
        broker_request_init(b, &rq);
        const char *p = dynsec_add_client_role(&rq, b->user, DYNSEC_SERVER_ROLE)
                            ? NULL
                            : dynsec_request_payload(&rq, &len);
        if (p)
            r = b->publish(b->publish_ctx, DYNSEC_TOPIC, p, len);
        dynsec_request_free(&rq);
        log_info("broker: role %s given to the server's account %s", DYNSEC_SERVER_ROLE, b->user);
    }
    return r;
}

/* --- one device at a time ------------------------------------------------------------------ */

int broker_sync_device(struct broker *b, const char *device_id)
{
    struct store *st = broker_store(b);
    struct device_rec rec;
    struct dynsec_device want;
    size_t n_want = 0;
    if (!st)
        return -ENOTCONN;
    int r = store_device_by_name(st, device_id, &rec);
    if (r && r != -ENOENT)
        return broker_store_trouble(b, r, "reading a changed device");
    if (!r && !dynsec_device_expect(b->user, rec.device_id, rec.secret_hash, &want))
        n_want = 1;
    char rolename[DYNSEC_NAME_MAX + 1];
    snprintf(rolename, sizeof(rolename), DYNSEC_DEVICE_ROLE_PREFIX "%s", device_id);
    struct dynsec_request rq;
    json_t *ans = NULL;
    broker_request_init(b, &rq);
    r = dynsec_get(&rq, "getClient", "username", device_id);
    if (!r)
        r = dynsec_get(&rq, "getRole", "rolename", rolename);
    if (!r)
        r = broker_call(b, &rq, &ans);
    dynsec_request_free(&rq);
    if (r)
        return r;
    json_t *clients = json_array(), *roles = json_array();
    const json_t *client = broker_response_data(ans, 0, "client"),
                 *role = broker_response_data(ans, 1, "role");
    if (!clients || !roles || (client && json_array_append(clients, (json_t *)client)) ||
        (role && json_array_append(roles, (json_t *)role)))
        r = -ENOMEM;
    if (!r)
        r = apply(b, &want, n_want, clients, roles, true);
    json_decref(clients);
    json_decref(roles);
    json_decref(ans);
    explicit_bzero(&want, sizeof(want));
    if (b->device_changed)
        b->device_changed(b->changed_ctx, device_id);
    if (!r)
        atomic_fetch_add(&b->changes, 1);
    return r;
}

/* --- following the change log -------------------------------------------------------------- */

struct change_batch {
    size_t n;
    struct device_change c[CHANGES_PER_READ];
};

static int collect(const struct device_change *c, void *ctx)
{
    struct change_batch *cb = ctx;
    cb->c[cb->n++] = *c;
    return 0;
}

static bool done_already(struct broker *b, int64_t id)
{
    for (size_t k = 0; k < b->n_done; k++)
        if (b->done[k] == id)
            return true;
    return false;
}

/*
 * Applies the changes logged after the watermark. The watermark moves over
 * contiguous ids only: a missing id may be a transaction that committed
 * later (MySQL hands out ids before commit), so for GAP_WAIT_MS the ids after
 * it are applied but remembered, and the missing one is looked for again.
 */
int broker_follow_changes(struct broker *b, int64_t now_ms)
{
    struct store *st = broker_store(b);
    if (!st)
        return -ENOTCONN;
    struct change_batch *cb = malloc(sizeof(*cb));
    if (!cb)
        return -ENOMEM;
    int r;
    do {
        cb->n = 0;
        r = store_device_changes(st, b->watermark, CHANGES_PER_READ, collect, cb);
        if (r) {
            r = broker_store_trouble(b, r, "reading the change log");
            break;
        }
        for (size_t k = 0; !r && k < cb->n; k++) {
            if (done_already(b, cb->c[k].id))
                continue;
            r = broker_sync_device(b, cb->c[k].device_id);
            if (!r && b->n_done < CHANGES_PER_READ)
                b->done[b->n_done++] = cb->c[k].id;
        }
        if (r)
            break;
        /* Move over the contiguous ids. */
        size_t k = 0;
        while (k < cb->n && cb->c[k].id == b->watermark + 1)
            b->watermark = cb->c[k++].id;
        if (k < cb->n) {
            if (!b->gap_since_ms)
                b->gap_since_ms = now_ms;
            if (now_ms - b->gap_since_ms >= GAP_WAIT_MS || b->n_done == CHANGES_PER_READ) {
                b->watermark = cb->c[cb->n - 1].id; /* a rolled-back id: never coming */
                b->gap_since_ms = 0;
            }
        } else {
            b->gap_since_ms = 0;
        }
        size_t keep = 0;
        for (size_t i = 0; i < b->n_done; i++)
            if (b->done[i] > b->watermark)
                b->done[keep++] = b->done[i];
        b->n_done = keep;
    } while (cb->n == CHANGES_PER_READ && !b->gap_since_ms);
    free(cb);
    return r;
}
