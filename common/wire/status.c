#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "jsonutil.h"
#include "jsonw.h"
#include "timeutil.h"

#define STATUS_JSON_MAX_DEPTH 4
_Static_assert(STATUS_ERR_LEN == JSON_ERR_LEN, "JSON errors go straight into err");
/* How far ahead of the server's clock a meter's ts may be and still be believed. */
#define TS_MAX_FUTURE_MS (24 * 3600 * 1000)

const char status_will_payload[] = "{\"status\":\"offline\"}";

int status_encode(bool online, uint32_t boot, int64_t ts_ms, struct dynbuf *out)
{
    struct jsonw w;
    jsonw_init(&w, out);
    jsonw_obj_begin(&w);
    jsonw_kstr(&w, "status", online ? "online" : "offline");
    jsonw_kint(&w, "boot", boot);
    jsonw_ktime(&w, "ts", ts_ms);
    jsonw_obj_end(&w);
    return jsonw_error(&w);
}

int status_parse(const void *payload, size_t len, int64_t now_ms, struct status_msg *ret,
                 char err[STATUS_ERR_LEN])
{
    json_t *root;
    if (len == 0)
        return -ENODATA;
    if (json_load_limited(payload, len, STATUS_JSON_MAX_DEPTH, &root, err))
        return -EINVAL;
    const char *s = json_string_value(json_object_get(root, "status"));
    const char *ts = json_string_value(json_object_get(root, "ts"));
    struct status_msg m = {0};
    int r = 0;
    if (s && (strcmp(s, "online") == 0 || strcmp(s, "offline") == 0)) {
        m.online = strcmp(s, "online") == 0;
        m.has_ts = ts && time_parse_rfc3339(ts, &m.ts_ms) == 0 && m.ts_ms >= TIME_MIN_VALID_MS &&
                   m.ts_ms <= now_ms + TS_MAX_FUTURE_MS;
        if (!m.has_ts)
            m.ts_ms = 0;
        *ret = m;
    } else {
        snprintf(err, STATUS_ERR_LEN, "status must be \"online\" or \"offline\"");
        r = -EINVAL;
    }
    json_decref(root);
    return r;
}
