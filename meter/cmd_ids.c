#include "cmd_ids.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

bool cmd_ids_line(const char **p, char *buf, size_t cap)
{
    const char *s = *p;
    const char *e = strchr(s, '\n');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    *p = s + n + (e ? 1 : 0);
    if (!*s || n >= cap)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

int cmd_ids_parse(const char **p, int first_line, cmd_id *ids, size_t max, size_t *ret_n,
                  int *ret_line, const char **ret_what)
{
    char line[COMMAND_ID_MAX + 2];
    size_t n = 0;
    for (int ln = first_line; **p; ln++) {
        *ret_line = ln;
        if (!cmd_ids_line(p, line, sizeof(line)) || !command_id_valid(line)) {
            *ret_what = "expected a command id";
            return -EINVAL;
        }
        if (n == max) {
            *ret_what = "too many command ids";
            return -EINVAL;
        }
        memcpy(ids[n++], line, strlen(line) + 1);
    }
    *ret_n = n;
    return 0;
}

int cmd_ids_format(const cmd_id *ids, size_t n, char *out, size_t cap, size_t *len)
{
    for (size_t k = 0; k < n && *len < cap; k++)
        *len += (size_t)snprintf(out + *len, cap - *len, "%s\n", ids[k]);
    return *len >= cap ? -E2BIG : 0;
}

bool cmd_ids_seen(const cmd_id *ids, size_t n, const char *id)
{
    for (size_t k = 0; k < n; k++)
        if (strcmp(ids[k], id) == 0)
            return true;
    return false;
}

void cmd_ids_remember(cmd_id *ids, size_t max, size_t *n, const char *id)
{
    if (max == 0)
        return;
    memmove(ids[1], ids[0], sizeof(ids[0]) * (max - 1));
    memcpy(ids[0], id, strlen(id) + 1);
    if (*n < max)
        (*n)++;
}
