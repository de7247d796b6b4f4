#include "jsonutil.h"

#include <errno.h>
#include <stdio.h>

int json_nesting_depth(const char *buf, size_t len, int max_depth)
{
    int depth = 0, deepest = 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
            continue;
        }
        if (c == '"') {
            in_string = 1;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return -1;
            if (depth > deepest)
                deepest = depth;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return deepest;
}

int json_load_limited(const char *buf, size_t len, int max_depth, json_t **ret,
                      char err[JSON_ERR_LEN])
{
    if (json_nesting_depth(buf, len, max_depth) < 0) {
        snprintf(err, JSON_ERR_LEN, "JSON nested deeper than %d levels", max_depth);
        return -EINVAL;
    }
    json_error_t je;
    json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, JSON_ERR_LEN, "malformed JSON at line %d column %d: %.100s", je.line,
                 je.column, je.text);
        /*
         * jansson quotes the text near the error, which may stop inside a UTF-8 character;
         * the message goes into JSON answers and replies, so it is kept to ASCII.
         */
        for (char *p = err; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        return -EINVAL;
    }
    *ret = root;
    return 0;
}

int json_number(const json_t *v, double *ret)
{
    if (json_is_integer(v)) {
        *ret = (double)json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        *ret = json_real_value(v);
        return 1;
    }
    return 0;
}
