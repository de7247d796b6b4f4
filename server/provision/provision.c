/* provision: a CSV of devices into the store in one transaction (provision.h). */
#include "provision.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "device_csv.h"

struct secret {
    char secret[AUTH_DEVICE_SECRET_LEN + 1];
    char hash[SECRET_HASH_LEN + 1];
};

int provision_import(struct store *st, const char *text, size_t len, const char *by,
                     provision_secret_cb cb, void *ctx, size_t *ret_n, unsigned *ret_line,
                     char err[PROVISION_ERR_LEN])
{
    struct device_csv csv = {0};
    struct secret *secrets = NULL;
    struct device_import_row *rows = NULL;
    char cerr[DEVICE_CSV_ERR_LEN];
    *ret_line = 0;
    *ret_n = 0;
    err[0] = '\0';
    int r = device_csv_parse(text, len, PROVISION_MAX_ROWS, &csv, cerr);
    if (r) {
        snprintf(err, PROVISION_ERR_LEN, "%s", r == -ENOMEM ? "out of memory" : cerr);
        /* The parser's message starts with the line it names. */
        unsigned line = 0;
        if (sscanf(cerr, "line %u:", &line) == 1)
            *ret_line = line;
        return r;
    }
    if (csv.n == 0) {
        snprintf(err, PROVISION_ERR_LEN, "no devices after the header line");
        r = -EINVAL;
        goto out;
    }
    secrets = calloc(csv.n, sizeof(*secrets));
    rows = calloc(csv.n, sizeof(*rows));
    if (!secrets || !rows) {
        snprintf(err, PROVISION_ERR_LEN, "out of memory");
        r = -ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < csv.n; i++) {
        auth_device_secret_new(secrets[i].secret, secrets[i].hash);
        rows[i] = (struct device_import_row){.device_id = csv.rows[i].device_id,
                                             .secret_hash = secrets[i].hash,
                                             .owner = csv.rows[i].owner,
                                             .name = csv.rows[i].name,
                                             .site = csv.rows[i].site};
    }
    size_t bad = csv.n;
    r = store_devices_import(st, rows, csv.n, by, &bad);
    if (r) {
        if (bad < csv.n && (r == -EEXIST || r == -ENOENT || r == -EINVAL)) {
            *ret_line = csv.rows[bad].line;
            snprintf(err, PROVISION_ERR_LEN, "line %u: %s", *ret_line, store_errmsg(st));
            r = -EINVAL;
        } else {
            snprintf(err, PROVISION_ERR_LEN, "%s", store_errmsg(st));
        }
        goto out;
    }
    *ret_n = csv.n;
    for (size_t i = 0; i < csv.n && !r; i++)
        r = cb(csv.rows[i].device_id, secrets[i].secret, ctx);
out:
    if (secrets)
        auth_wipe(secrets, csv.n * sizeof(*secrets));
    free(secrets);
    free(rows);
    device_csv_free(&csv);
    return r;
}
