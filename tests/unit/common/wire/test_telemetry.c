/*
 * Wire format: every file in tests/data/telemetry/valid must decode without
 * error; every file in invalid/ must fail with the message in its .err file.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "dynbuf.h"
#include "fileutil.h"
#include "jsonw.h"
#include "telemetry.h"

#define NOW_MS INT64_C(1767225600000) /* 2026-01-01 */

static struct telemetry_opts mqtt_opts(void)
{
    struct telemetry_opts o = {.device_id = "dev-1",
                               .now_ms = NOW_MS,
                               .max_future_ms = 86400000,
                               .require_seq_ts = true,
                               .max_items = 100};
    return o;
}

static char *data_path(const char *sub, const char *name)
{
    const char *root = getenv("TEST_DATA_DIR");
    assert_non_null(root);
    size_t n = strlen(root) + strlen(sub) + strlen(name) + 16;
    char *p = malloc(n);
    snprintf(p, n, "%s/telemetry/%s/%s", root, sub, name);
    return p;
}

static int for_each_json(const char *sub, void (*fn)(const char *name, const char *path))
{
    char *dir = data_path(sub, "");
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char *path = data_path(sub, e->d_name);
        fn(e->d_name, path);
        free(path);
        n++;
    }
    closedir(d);
    free(dir);
    return n;
}

static void check_valid(const char *name, const char *path)
{
    char *data;
    size_t len;
    struct reading out[8];
    struct telemetry_result res;
    struct telemetry_opts o = mqtt_opts();
    assert_int_equal(file_read_all(path, 65536, &data, &len), 0);
    int r = telemetry_decode(data, len, &o, out, 8, &res);
    if (r || res.n_invalid)
        fail_msg("%s: %s", name, res.first_error);
    assert_true(res.n_valid >= 1);
    free(data);
}

static void check_invalid(const char *name, const char *path)
{
    char *data, *want;
    size_t len, wlen;
    char errpath[4096];
    struct reading out[8];
    struct telemetry_result res;
    struct telemetry_opts o = mqtt_opts();
    snprintf(errpath, sizeof(errpath), "%.*s.err", (int)(strlen(path) - 5), path);
    assert_int_equal(file_read_all(path, 65536, &data, &len), 0);
    if (file_read_all(errpath, 4096, &want, &wlen))
        fail_msg("%s: missing %s", name, errpath);
    while (wlen > 0 && want[wlen - 1] == '\n')
        want[--wlen] = '\0';
    int r = telemetry_decode(data, len, &o, out, 8, &res);
    if (r == 0 && res.n_invalid == 0)
        fail_msg("%s: accepted", name);
    if (!strstr(res.first_error, want))
        fail_msg("%s: error '%s' does not contain '%s'", name, res.first_error, want);
    free(data);
    free(want);
}

static void test_valid_payloads_decode(void **state)
{
    (void)state;
    assert_true(for_each_json("valid", check_valid) >= 5);
}

static void test_invalid_payloads_fail_with_a_message_naming_the_problem(void **state)
{
    (void)state;
    assert_true(for_each_json("invalid", check_invalid) >= 20);
}

static void test_fields_and_units_are_decoded(void **state)
{
    (void)state;
    const char *p = "{\"seq\":9,\"ts\":\"2026-01-01T00:00:00.250Z\",\"voltage\":229.5,"
                    "\"current\":12,\"energy_wh\":1.2345,\"boot\":3,\"pf\":-0.5}";
    struct reading r;
    struct telemetry_result res;
    struct telemetry_opts o = mqtt_opts();
    assert_int_equal(telemetry_decode(p, strlen(p), &o, &r, 1, &res), 0);
    assert_int_equal(res.n_valid, 1);
    assert_int_equal(r.seq, 9);
    assert_true(r.has_seq);
    assert_int_equal(r.ts_ms, NOW_MS + 250);
    assert_true(r.real[RR_VOLTAGE] == 229.5);
    assert_true(r.real[RR_CURRENT] == 12);
    assert_true(reading_has_real(&r, RR_PF) && r.real[RR_PF] == -0.5);
    assert_false(reading_has_real(&r, RR_POWER_W));
    assert_int_equal(r.counter[RC_ENERGY_IMPORT], 1235); /* mWh, rounded */
    assert_int_equal(r.counter[RC_BOOT], 3);
}

static void test_valid_items_of_a_batch_survive_an_invalid_one(void **state)
{
    (void)state;
    const char *p = "[{\"seq\":1,\"ts\":1767225600000,\"voltage\":1,\"current\":1},"
                    "{\"seq\":2,\"ts\":1767225600000,\"voltage\":\"x\",\"current\":1},"
                    "{\"seq\":3,\"ts\":1767225600000,\"voltage\":3,\"current\":1}]";
    struct reading r[3];
    struct telemetry_result res;
    struct telemetry_opts o = mqtt_opts();
    assert_int_equal(telemetry_decode(p, strlen(p), &o, r, 3, &res), 0);
    assert_int_equal(res.n_valid, 2);
    assert_int_equal(res.n_invalid, 1);
    assert_int_equal(r[1].seq, 3);
    assert_non_null(strstr(res.first_error, "item 1"));
}

static void test_batches_over_the_limit_are_refused(void **state)
{
    (void)state;
    struct dynbuf b;
    dynbuf_init(&b, 1 << 20);
    dynbuf_addc(&b, '[');
    for (int i = 0; i < 101; i++)
        dynbuf_addf(&b, "%s{\"seq\":%d,\"ts\":1767225600000,\"voltage\":1,\"current\":1}",
                    i ? "," : "", i);
    dynbuf_addc(&b, ']');
    static struct reading r[200];
    struct telemetry_result res;
    struct telemetry_opts o = mqtt_opts();
    assert_int_equal(telemetry_decode(b.buf, b.len, &o, r, 200, &res), -EINVAL);
    assert_non_null(strstr(res.first_error, "exceeds the limit of 100"));
    dynbuf_free(&b);
}

static void test_http_uploads_may_omit_seq_and_ts(void **state)
{
    (void)state;
    const char *p = "{\"device_id\":\"dev-1\",\"voltage\":220.5,\"current\":10.2}";
    struct reading r;
    struct telemetry_result res;
    struct telemetry_opts o = mqtt_opts();
    o.require_seq_ts = false;
    assert_int_equal(telemetry_decode(p, strlen(p), &o, &r, 1, &res), 0);
    assert_int_equal(res.n_valid, 1);
    assert_false(r.has_seq);
    assert_int_equal(r.ts_ms, NOW_MS);
}

static void test_encode_then_decode_round_trips(void **state)
{
    (void)state;
    struct reading r = {.seq = 77, .has_seq = true, .ts_ms = NOW_MS + 5};
    reading_set_real(&r, RR_VOLTAGE, 231.25);
    reading_set_real(&r, RR_CURRENT, 4.5);
    reading_set_real(&r, RR_FREQ_HZ, 49.73);
    reading_set_counter(&r, RC_ENERGY_IMPORT, 123456789);
    reading_set_counter(&r, RC_BOOT, 12);
    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 4096);
    jsonw_init(&w, &b);
    telemetry_encode(&w, &r, "dev-1");
    assert_int_equal(jsonw_error(&w), 0);

    struct reading back;
    struct telemetry_result res;
    struct telemetry_opts o = mqtt_opts();
    assert_int_equal(telemetry_decode(b.buf, b.len, &o, &back, 1, &res), 0);
    assert_int_equal(res.n_valid, 1);
    assert_int_equal(back.seq, 77);
    assert_int_equal(back.ts_ms, r.ts_ms);
    assert_int_equal(back.real_present, r.real_present);
    assert_int_equal(back.counter_present, r.counter_present);
    assert_true(back.real[RR_FREQ_HZ] == 49.73);
    assert_int_equal(back.counter[RC_ENERGY_IMPORT], 123456789);
    dynbuf_free(&b);
}

static void test_a_backlog_the_meter_encodes_the_server_decodes(void **state)
{
    (void)state;
    struct reading r[4], back[4];
    memset(r, 0, sizeof(r));
    for (int k = 0; k < 4; k++) {
        r[k].seq = 100 + (uint64_t)k;
        r[k].has_seq = true;
        r[k].ts_ms = NOW_MS - 1000 * (4 - k);
        reading_set_real(&r[k], RR_VOLTAGE, 230 + k);
        reading_set_real(&r[k], RR_CURRENT, 1.5 * k);
        reading_set_counter(&r[k], RC_ENERGY_IMPORT, 1000 * k + 1);
    }
    struct telemetry_opts o = mqtt_opts();
    struct telemetry_result res;
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);

    /* live: one object */
    assert_int_equal(telemetry_encode_payload(r, 1, false, &b), 0);
    assert_int_equal(b.buf[0], '{');
    assert_int_equal(telemetry_decode(b.buf, b.len, &o, back, 4, &res), 0);
    assert_int_equal(res.n_valid, 1);
    assert_int_equal(back[0].seq, 100);

    /* backlog: an array, up to the server's max_items */
    o.max_items = 3;
    dynbuf_reset(&b);
    assert_int_equal(telemetry_encode_payload(r, 3, true, &b), 0);
    assert_int_equal(telemetry_decode(b.buf, b.len, &o, back, 4, &res), 0);
    assert_int_equal(res.n_valid, 3);
    assert_int_equal(res.n_invalid, 0);
    for (int k = 0; k < 3; k++) {
        assert_int_equal(back[k].seq, r[k].seq);
        assert_int_equal(back[k].ts_ms, r[k].ts_ms);
        assert_true(back[k].real[RR_CURRENT] == r[k].real[RR_CURRENT]);
        assert_int_equal(back[k].counter[RC_ENERGY_IMPORT], r[k].counter[RC_ENERGY_IMPORT]);
    }
    dynbuf_reset(&b);
    assert_int_equal(telemetry_encode_payload(r, 4, true, &b), 0);
    assert_int_equal(telemetry_decode(b.buf, b.len, &o, back, 4, &res), -EINVAL);
    assert_string_equal(res.first_error, "array of 4 readings exceeds the limit of 3");

    dynbuf_reset(&b);
    assert_int_equal(telemetry_encode_payload(r, 0, true, &b), -EINVAL);
    assert_int_equal(telemetry_encode_payload(r, 2, false, &b), -EINVAL);
    assert_int_equal(b.len, 0);
    dynbuf_free(&b);
    dynbuf_init(&b, 16);
    assert_int_equal(telemetry_encode_payload(r, 1, false, &b), -E2BIG);
    dynbuf_free(&b);
}

static void test_an_invalid_reading_still_names_a_usable_seq(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        bool usable;
        uint64_t seq;
    } cases[] = {
        {"{\"seq\":501,\"voltage\":\"x\"}", true, 501},
        {"{\"seq\":0}", true, 0},
        {"{\"seq\":9223372036854775807}", true, UINT64_C(9223372036854775807)},
        {"{\"seq\":-1}", false, 0},
        {"{\"seq\":1.5}", false, 0},
        {"{\"seq\":\"7\"}", false, 0},
        {"{}", false, 0},
        {"[7]", false, 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        json_error_t e;
        json_t *item = json_loads(cases[k].json, 0, &e);
        uint64_t seq = 12345;
        assert_non_null(item);
        assert_int_equal(telemetry_item_seq(item, &seq), cases[k].usable);
        assert_int_equal(seq, cases[k].usable ? cases[k].seq : 12345);
        json_decref(item);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_payloads_decode),
        cmocka_unit_test(test_invalid_payloads_fail_with_a_message_naming_the_problem),
        cmocka_unit_test(test_fields_and_units_are_decoded),
        cmocka_unit_test(test_valid_items_of_a_batch_survive_an_invalid_one),
        cmocka_unit_test(test_batches_over_the_limit_are_refused),
        cmocka_unit_test(test_http_uploads_may_omit_seq_and_ts),
        cmocka_unit_test(test_encode_then_decode_round_trips),
        cmocka_unit_test(test_a_backlog_the_meter_encodes_the_server_decodes),
        cmocka_unit_test(test_an_invalid_reading_still_names_a_usable_seq),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
