/*
 * The API's JSON request bodies (server/api/api.c): api_body_object(), the
 * parser every POST handler starts with, then each handler's reading of its
 * fields with api_body_string() (the name and length cap each handler gives)
 * and the check it applies next: username_valid() (login, users, bindings,
 * owner), role_parse() (users), device_id_valid() (devices),
 * wechat_code_valid() (WeChat login and binding). The recharge amount has a
 * harness of its own (fuzz_recharge), the upload body is the telemetry
 * harness's HTTP case.
 *
 * Checks: a refusal answers 400 with an error object that is valid JSON
 * (what a client parses); an accepted string is within its cap and holds no
 * NUL; the empty string passes none of the checks.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "fuzz.h"
#include "topic.h"
#include "wechat.h"

static bool role_valid(const char *s)
{
    enum role role;
    return role_parse(s, &role) == 0;
}

static const struct {
    const char *name;
    size_t max;
    bool (*valid)(const char *s); /* the handler's next check; NULL: none */
} fields[] = {
    {"username", USERNAME_MAX, username_valid},
    {"password", AUTH_PASSWORD_MAX, NULL},
    {"role", 16, role_valid},
    {"device_id", DEVICE_ID_MAX, device_id_valid},
    {"owner", USERNAME_MAX, username_valid},
    {"code", WECHAT_CODE_MAX, wechat_code_valid},
};

/* The answer api_error() left: 400 and {"status":"error","message":"..."}. */
static void check_refusal(struct http_response *res)
{
    FUZZ_CHECK(res->status == 400);
    json_t *root = json_loadb(res->body.buf, res->body.len, 0, NULL);
    FUZZ_CHECK(root != NULL);
    const char *status = json_string_value(json_object_get(root, "status"));
    FUZZ_CHECK(status && strcmp(status, "error") == 0);
    FUZZ_CHECK(json_is_string(json_object_get(root, "message")));
    json_decref(root);
    res->status = 0;
    dynbuf_reset(&res->body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *body = fuzz_cstr(data, size);
    struct http_request req = {.method = "POST", .path = "/api/", .body = body, .body_len = size};
    struct http_response res = {0};
    struct api_call c = {.req = &req, .res = &res};
    dynbuf_init(&res.body, 1 << 16);

    json_t *obj = api_body_object(&c);
    if (!obj) {
        check_refusal(&res);
        goto out;
    }
    FUZZ_CHECK(json_is_object(obj));
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++) {
        const char *s = api_body_string(&c, obj, fields[k].name, fields[k].max);
        if (!s) {
            check_refusal(&res);
            continue;
        }
        const json_t *v = json_object_get(obj, fields[k].name);
        FUZZ_CHECK(strlen(s) <= fields[k].max && strlen(s) == json_string_length(v));
        if (fields[k].valid)
            FUZZ_CHECK(!fields[k].valid(s) || s[0]);
    }
    json_decref(obj);
out:
    dynbuf_free(&res.body);
    free(body);
    return 0;
}
