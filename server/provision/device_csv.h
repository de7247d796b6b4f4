/*
 * device_csv: the CSV file of a bulk import of devices (docs/api.md
 * "Importing devices"): a header line naming the columns, then one device a
 * line. Columns: device_id (required), owner, name, site, in any order;
 * another name is refused. A file whose first line does not start with a
 * column's name has no header: its rows are device_id[,owner]. Fields are
 * RFC 4180: separated by ',', optionally in double quotes ("" is a quote
 * inside), lines end in LF or CRLF. An empty field is "not told" (NULL).
 * Blank lines are skipped, and a UTF-8 byte order mark before the header.
 *
 * Pure (no I/O). Outside input: every error names its line (1-based, the
 * header is line 1) and what is wrong; the row count is capped by the caller.
 * device_csv_parse() copies the text: the rows' strings point into the
 * result's own buffer, which device_csv_free() releases (NULL-safe fields).
 */
#ifndef SMARTMETER_DEVICE_CSV_H
#define SMARTMETER_DEVICE_CSV_H

#include <stddef.h>

#define DEVICE_CSV_ERR_LEN 200

struct device_csv_row {
    const char *device_id; /* device_id_valid() */
    const char *owner;     /* username_valid(), or NULL */
    const char *name;      /* UTF-8 text, or NULL: its bounds are the store's */
    const char *site;
    unsigned line; /* where the row is in the file */
};

struct device_csv {
    struct device_csv_row *rows;
    size_t n;
    char *buf; /* the rows' strings */
};

/*
 * Parses len bytes of text (no NUL needed). 0 with *ret filled (free it with
 * device_csv_free()); -EINVAL with err "line N: why" (nothing to free);
 * -E2BIG past max_rows rows; -ENOMEM.
 */
int device_csv_parse(const char *text, size_t len, size_t max_rows, struct device_csv *ret,
                     char err[DEVICE_CSV_ERR_LEN]);
void device_csv_free(struct device_csv *c);

#endif
