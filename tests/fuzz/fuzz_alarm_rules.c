/*
 * What clients and the config file tell the alarms (server/alarms/): the
 * rule overrides of PUT /api/devices/:id/alarm-rules (alarm_overrides_parse
 * after the API's JSON parser), the state filter of GET /api/alarms
 * (alarm_states_parse) and the WeChat field map alarm_wechat_fields
 * (wxmsg_fields_parse), whose accepted maps then build a message body.
 * The first byte picks the parser; the rest is its input.
 *
 * Checks: refusals are -EINVAL with a message; accepted overrides hold known
 * kinds once each with finite values in their ranges; an accepted state set
 * is not empty and within the states; an accepted field map builds a body
 * that is valid JSON whose thing values are at most 20 characters.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jsonutil.h"
#include "rules_json.h"
#include "wxmsg.h"

static void overrides(const char *text, size_t len)
{
    json_t *root = NULL;
    char jerr[JSON_ERR_LEN], err[ALARM_PARSE_ERR_LEN] = "";
    if (json_load_limited(text, len, 8, &root, jerr))
        return;
    struct alarm_rule_override o[AK__COUNT];
    size_t n = 99;
    int r = alarm_overrides_parse(root, o, &n, err);
    FUZZ_CHECK(r == 0 || r == -EINVAL);
    if (r) {
        FUZZ_CHECK(err[0] != '\0' && n == 99);
    } else {
        FUZZ_CHECK(n <= AK__COUNT);
        for (size_t i = 0; i < n; i++) {
            FUZZ_CHECK(alarm_kind_parse(o[i].kind) >= 0);
            for (size_t j = 0; j < i; j++)
                FUZZ_CHECK(strcmp(o[i].kind, o[j].kind) != 0);
            FUZZ_CHECK(!o[i].has_limit || isfinite(o[i].limit));
            FUZZ_CHECK(!o[i].has_hysteresis || (isfinite(o[i].hysteresis) && o[i].hysteresis >= 0));
            FUZZ_CHECK(!o[i].has_min_duration ||
                       (o[i].min_duration_ms >= 0 &&
                        o[i].min_duration_ms <= INT64_C(1000) * ALARM_MIN_DURATION_MAX_S));
        }
    }
    json_decref(root);
}

static void states(const char *text)
{
    unsigned m = 12345;
    int r = alarm_states_parse(text, &m);
    FUZZ_CHECK(r == 0 || r == -EINVAL);
    if (r == 0)
        FUZZ_CHECK(m != 0 && m < ALARM_BIT(ALARM__COUNT));
    else
        FUZZ_CHECK(m == 12345);
}

static void fields(const char *text, size_t len)
{
    struct wxmsg_fields f;
    char err[WXMSG_ERR_LEN] = "";
    int r = wxmsg_fields_parse(text, len, &f, err);
    FUZZ_CHECK(r == 0 || r == -EINVAL);
    if (r) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(f.n >= 1 && f.n <= WXMSG_FIELDS_MAX);
    struct alarm_rec a = {.id = 7,
                          .state = ALARM_RAISED,
                          .has_value = true,
                          .value = 251.25,
                          .has_limit = true,
                          .limit = 235.4,
                          .raised_ms = FUZZ_NOW_MS};
    strcpy(a.device_id, "device-with-a-rather-long-name-01");
    strcpy(a.kind, "voltage.over");
    strcpy(a.severity, "major");
    strcpy(a.site, "\xe4\xb8\x9c\xe5\x8c\xba park");
    struct wxmsg_target t = {.openid = "oX", .template_id = "T", .page = "p", .state = "formal"};
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    FUZZ_CHECK(wxmsg_body(&f, &t, &a, &b) == 0);
    FUZZ_CHECK(fuzz_json_valid(b.buf, b.len));
    json_t *root = NULL;
    char jerr[JSON_ERR_LEN];
    FUZZ_CHECK(json_load_limited(b.buf, b.len, 4, &root, jerr) == 0);
    json_t *data = json_object_get(root, "data");
    const char *key;
    json_t *v;
    json_object_foreach(data, key, v)
    {
        const char *s = json_string_value(json_object_get(v, "value"));
        FUZZ_CHECK(s != NULL);
        size_t chars = 0;
        for (const char *p = s; *p; p++)
            chars += ((unsigned char)*p & 0xC0) != 0x80;
        if (strncmp(key, "thing", 5) == 0)
            FUZZ_CHECK(chars <= 20);
        else
            FUZZ_CHECK(chars <= 32);
    }
    json_decref(root);
    dynbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char *cstr = fuzz_cstr(data + 1, len);
    switch (data[0] % 3) {
    case 0:
        overrides(text, len);
        break;
    case 1:
        states(cstr);
        break;
    default:
        fields(text, len);
        break;
    }
    free(cstr);
    return 0;
}
