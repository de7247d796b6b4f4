/*
 * plan: what to change so the broker's accounts match the devices table
 * (dynsec.h describes the accounts). Pure: it compares a listing of the
 * broker with the accounts the devices need and names the steps; the
 * provisioning thread (broker.c) sends them.
 *
 * The same comparison serves the whole broker (verbose listings of every
 * client and role) and one device (its getClient and getRole answers, or
 * nothing): only what the listing holds is in scope, so a device missing
 * from the database is deleted from the broker only when the listing shows
 * its account.
 */
#ifndef SMARTMETER_BROKER_PLAN_H
#define SMARTMETER_BROKER_PLAN_H

#include <stddef.h>

#include <jansson.h>

#include "dynsec.h"

enum plan_op {
    PLAN_CREATE_ROLE,   /* the device's role is missing */
    PLAN_MODIFY_ROLE,   /* its ACLs differ */
    PLAN_CREATE_CLIENT, /* the device's account is missing */
    PLAN_MODIFY_CLIENT, /* its password (check), client id, roles or groups differ */
    PLAN_ENABLE_CLIENT, /* it was disabled */
    PLAN_DELETE_CLIENT, /* a managed account whose device is gone */
    PLAN_DELETE_ROLE,   /* a managed device role whose device is gone */
    PLAN_COLLISION,     /* the device's name is an account (or role) the server does not manage */
};

struct plan_step {
    enum plan_op op;
    const char *name;                /* the client's or role's name */
    const struct dynsec_device *dev; /* the account wanted; NULL for deletions */
};

/* Called for each step, in an order the broker can follow; non-zero stops the plan. */
typedef int (*plan_fn)(void *ctx, const struct plan_step *step);

/*
 * Compares clients and roles (arrays of verbose client and role objects, as
 * listClients/listRoles or getClient/getRole answer; NULL means empty) with
 * want[0..n), accounts marked managed_prefix (dynsec_managed_prefix) being
 * the server's own. A device's role comes before its account; an account's
 * deletion before its role's. Returns 0, fn's non-zero result, or -ENOMEM.
 */
int plan_accounts(const char *managed_prefix, const struct dynsec_device *want, size_t n,
                  const json_t *clients, const json_t *roles, plan_fn fn, void *ctx);

#endif
