/*
 * WeChat subscribe message bodies for alarms: the field map's parser
 * (alarm_wechat_fields) and the body, each field cut to WeChat's rules for
 * its type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "wxmsg.h"

static const char *parse_err(const char *text)
{
    static char err[WXMSG_ERR_LEN];
    struct wxmsg_fields f;
    err[0] = '\0';
    if (wxmsg_fields_parse(text, strlen(text), &f, err) == 0)
        return NULL;
    return err;
}

static void test_the_default_field_map_parses(void **state)
{
    (void)state;
    struct wxmsg_fields f;
    char err[WXMSG_ERR_LEN];
    assert_int_equal(
        wxmsg_fields_parse(WXMSG_DEFAULT_FIELDS, strlen(WXMSG_DEFAULT_FIELDS), &f, err), 0);
    assert_int_equal(f.n, 4);
    assert_string_equal(f.f[0].key, "thing1");
    assert_int_equal(f.f[0].source, WXS_DEVICE);
    assert_int_equal(f.f[2].type, WXT_TIME);
    assert_string_equal(f.f[3].key, "thing4");
    assert_int_equal(f.f[3].source, WXS_DETAIL);
    const char *spaced = " character_string12=value , number3=limit ";
    assert_int_equal(wxmsg_fields_parse(spaced, strlen(spaced), &f, err), 0);
    assert_int_equal(f.f[0].type, WXT_CHARACTER_STRING);
    assert_int_equal(f.f[1].type, WXT_NUMBER);
}

static void test_bad_field_maps_are_refused_with_the_part_named(void **state)
{
    (void)state;
    const char *bad[] = {"",
                         "thing1",
                         "thing=device",
                         "thing123=device",
                         "phrase1=title",
                         "thing1=nothing",
                         "thing1=device,thing1=kind",
                         "thing1=device,,time2=time",
                         "number1=device",
                         "thingx=device",
                         "thing1=device,"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *e = parse_err(bad[i]);
        print_message("%s -> %s\n", bad[i], e ? e : "(accepted)");
        assert_non_null(e);
        assert_non_null(strstr(e, "alarm_wechat_fields"));
    }
    assert_non_null(strstr(parse_err("thing1=nothing"), "nothing"));
    char many[400] = "";
    for (int i = 1; i <= 11; i++) {
        char one[32];
        snprintf(one, sizeof(one), "%sthing%d=device", i > 1 ? "," : "", i);
        strcat(many, one);
    }
    assert_non_null(parse_err(many));
}

static void test_the_body_follows_wechats_rules(void **state)
{
    (void)state;
    setenv("TZ", "Asia/Shanghai", 1);
    tzset();
    struct wxmsg_fields f;
    char err[WXMSG_ERR_LEN];
    const char *map = "thing1=device,thing2=title,time3=time,thing4=detail,character_string5=site,"
                      "number6=value";
    assert_int_equal(wxmsg_fields_parse(map, strlen(map), &f, err), 0);
    struct alarm_rec a = {.id = 42,
                          .state = ALARM_RAISED,
                          .has_value = true,
                          .value = 250.37,
                          .has_limit = true,
                          .limit = 235.4,
                          .raised_ms = INT64_C(1765087920000)}; /* 2025-12-07 06:12:00 UTC */
    strcpy(a.device_id, "transformer-room-east-feeder-07");
    strcpy(a.kind, "voltage.over");
    strcpy(a.severity, "major");
    strcpy(a.site, "东区 park");
    struct wxmsg_target t = {.openid = "oOPENID_1",
                             .template_id = "TPL-1",
                             .page = "pages/alarms/alarms",
                             .state = "developer"};
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    assert_int_equal(wxmsg_body(&f, &t, &a, &b), 0);
    json_error_t je;
    json_t *root = json_loadb(b.buf, b.len, 0, &je);
    assert_non_null(root);
    assert_string_equal(json_string_value(json_object_get(root, "touser")), "oOPENID_1");
    assert_string_equal(json_string_value(json_object_get(root, "template_id")), "TPL-1");
    assert_string_equal(json_string_value(json_object_get(root, "page")),
                        "pages/alarms/alarms?id=42");
    assert_string_equal(json_string_value(json_object_get(root, "miniprogram_state")), "developer");
    json_t *data = json_object_get(root, "data");
    assert_int_equal(json_object_size(data), 6);
#define VAL(k) json_string_value(json_object_get(json_object_get(data, k), "value"))
    /* thing: at most 20 characters. */
    assert_string_equal(VAL("thing1"), "transformer-room-eas");
    assert_string_equal(VAL("thing2"), "over-voltage");
    assert_string_equal(VAL("time3"), "2025-12-07 14:12"); /* the site's zone */
    assert_string_equal(VAL("thing4"), "250.4V > 235.4V");
    /* character_string: ASCII only. */
    assert_string_equal(VAL("character_string5"), "?? park");
    assert_string_equal(VAL("number6"), "250.37");
#undef VAL
    json_decref(root);
    dynbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_default_field_map_parses),
        cmocka_unit_test(test_bad_field_maps_are_refused_with_the_part_named),
        cmocka_unit_test(test_the_body_follows_wechats_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
