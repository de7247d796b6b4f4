#include "plan.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

static bool starts_with(const char *s, const char *prefix)
{
    return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static const char *text(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static bool same(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Indexes an array of objects by the string under key (NULL on ENOMEM). */
static json_t *index_by(const json_t *array, const char *key)
{
    json_t *by = json_object();
    size_t i;
    const json_t *o;
    if (!by)
        return NULL;
    json_array_foreach(array, i, o)
    {
        const char *name = text(o, key);
        if (name && json_object_set(by, name, (json_t *)o)) {
            json_decref(by);
            return NULL;
        }
    }
    return by;
}

/* The account holds the one role wanted, no group, the right client id, name and description. */
static bool client_in_step(const json_t *c, const struct dynsec_device *d)
{
    const json_t *roles = json_object_get(c, "roles"), *groups = json_object_get(c, "groups");
    return same(text(c, "textdescription"), d->description) &&
           same(text(c, "clientid"), d->client_id) &&
           same(text(c, "textname"), DYNSEC_DEVICE_TEXTNAME) && json_array_size(roles) == 1 &&
           same(text(json_array_get(roles, 0), "rolename"), d->role) &&
           json_array_size(groups) == 0;
}

static int step(plan_fn fn, void *ctx, enum plan_op op, const char *name,
                const struct dynsec_device *d)
{
    struct plan_step s = {op, name, d};
    return fn(ctx, &s);
}

static int plan_device(const char *prefix, const struct dynsec_device *d, const json_t *client,
                       const json_t *role, plan_fn fn, void *ctx)
{
    if ((client && !starts_with(text(client, "textdescription"), prefix)) ||
        (role && !starts_with(text(role, "textdescription"), prefix)))
        return step(fn, ctx, PLAN_COLLISION, d->id, d);
    struct dynsec_acl acls[DYNSEC_ACLS_MAX];
    size_t n = dynsec_device_acls(d->id, acls);
    int r = 0;
    if (!role)
        r = step(fn, ctx, PLAN_CREATE_ROLE, d->role, d);
    else if (!dynsec_acls_equal(json_object_get(role, "acls"), acls, n))
        r = step(fn, ctx, PLAN_MODIFY_ROLE, d->role, d);
    if (!r && !client)
        r = step(fn, ctx, PLAN_CREATE_CLIENT, d->id, d);
    else if (!r && !client_in_step(client, d))
        r = step(fn, ctx, PLAN_MODIFY_CLIENT, d->id, d);
    if (!r && client && json_is_true(json_object_get(client, "disabled")))
        r = step(fn, ctx, PLAN_ENABLE_CLIENT, d->id, d);
    return r;
}

int plan_accounts(const char *managed_prefix, const struct dynsec_device *want, size_t n,
                  const json_t *clients, const json_t *roles, plan_fn fn, void *ctx)
{
    json_t *by_client = index_by(clients, "username"), *by_role = index_by(roles, "rolename");
    json_t *wanted = json_object();
    int r = by_client && by_role && wanted ? 0 : -ENOMEM;
    for (size_t k = 0; !r && k < n; k++)
        r = json_object_set_new(wanted, want[k].id, json_true()) ? -ENOMEM : 0;
    for (size_t k = 0; !r && k < n; k++)
        r = plan_device(managed_prefix, &want[k], json_object_get(by_client, want[k].id),
                        json_object_get(by_role, want[k].role), fn, ctx);

    /* What the server manages and no device needs any more: accounts first, then roles. */
    size_t i;
    const json_t *o;
    json_array_foreach(clients, i, o)
    {
        const char *name = text(o, "username");
        if (r)
            break;
        if (name && starts_with(text(o, "textdescription"), managed_prefix) &&
            !json_object_get(wanted, name))
            r = step(fn, ctx, PLAN_DELETE_CLIENT, name, NULL);
    }
    const size_t plen = strlen(DYNSEC_DEVICE_ROLE_PREFIX);
    json_array_foreach(roles, i, o)
    {
        const char *name = text(o, "rolename");
        if (r)
            break;
        if (starts_with(name, DYNSEC_DEVICE_ROLE_PREFIX) &&
            starts_with(text(o, "textdescription"), managed_prefix) &&
            !json_object_get(wanted, name + plen))
            r = step(fn, ctx, PLAN_DELETE_ROLE, name, NULL);
    }
    json_decref(by_client);
    json_decref(by_role);
    json_decref(wanted);
    return r;
}
