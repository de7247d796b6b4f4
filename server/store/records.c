/*
 * records: what the records of store.h mean, whatever holds them: role and
 * status names, the rules of a user name, and freeing a capture's data.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static const char *const role_names[] = {"user", "operator", "admin"};

const char *role_name(enum role role)
{
    return (unsigned)role < 3 ? role_names[role] : "?";
}

int role_parse(const char *name, enum role *ret_role)
{
    for (unsigned i = 0; i < 3; i++) {
        if (strcmp(name, role_names[i]) == 0) {
            *ret_role = (enum role)i;
            return 0;
        }
    }
    return -EINVAL;
}

bool username_valid(const char *name)
{
    size_t n = 0;
    for (; name[n]; n++) {
        char c = name[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.' || c == '@';
        if (!ok || n >= USERNAME_MAX)
            return false;
    }
    return n > 0;
}

const char *device_status_name(enum device_status status)
{
    switch (status) {
    case DEVICE_STATUS_ONLINE:
        return "online";
    case DEVICE_STATUS_OFFLINE:
        return "offline";
    default:
        return "unknown";
    }
}

const char *capture_status_name(enum capture_status status)
{
    switch (status) {
    case CAPTURE_PENDING:
        return "pending";
    case CAPTURE_COMPLETE:
        return "complete";
    default:
        return "failed";
    }
}

void capture_rec_clear(struct capture_rec *c)
{
    if (!c)
        return;
    free(c->analysis);
    c->analysis = NULL;
    for (size_t k = 0; k < CAPTURE_CHANNELS_MAX; k++) {
        free(c->x[k]);
        c->x[k] = NULL;
    }
    c->v = NULL;
    c->i = NULL;
}
