/* Tariffs: prices parsed exactly, the PUT body and its refusals, periods by the wall clock
 * (with DST), versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "jsonw.h"
#include "sitetime.h"
#include "tariff.h"
#include "timeutil.h"
#include "wallclock.h"

#define MIN (60 * INT64_C(1000))
#define H   (60 * MIN)

static int64_t utc(const char *s)
{
    int64_t ms;
    assert_int_equal(time_parse_rfc3339(s, &ms), 0);
    return ms;
}

static void use(const char *zone)
{
    char err[128];
    assert_int_equal(sitetime_set_zone(zone, err, sizeof(err)), 0);
}

static int parse(const char *body, struct tariff *t, char err[TARIFF_ERR_LEN])
{
    return tariff_parse(body, strlen(body), utc("2026-12-07T08:00:00Z"), t, err);
}

static void test_price_text_is_exact_to_four_decimals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        int64_t price;
    } cases[] = {
        {"0.6", 0, 6000},
        {"0.6000", 0, 6000},
        {"0.0001", 0, 1},
        {"12", 0, 120000},
        {"100", 0, 1000000},
        {"100.0000", 0, 1000000},
        {"0", 0, 0},
        {"007.5", 0, 75000},
        {"100.0001", -ERANGE, 0},
        {"101", -ERANGE, 0},
        {"99999999999999999999999", -ERANGE, 0},
        {"0.00001", -EINVAL, 0},
        {"0.60000", -EINVAL, 0},
        {"-1", -EINVAL, 0},
        {"1e-4", -EINVAL, 0},
        {"", -EINVAL, 0},
        {".5", -EINVAL, 0},
        {"5.", -EINVAL, 0},
        {" 1", -EINVAL, 0},
        {"1 ", -EINVAL, 0},
        {"+1", -EINVAL, 0},
        {"0,6", -EINVAL, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t p = -1;
        int rc = tariff_price_parse(cases[i].text, &p);
        if (rc != cases[i].rc || (rc == 0 && p != cases[i].price))
            fail_msg("\"%s\": rc %d price %lld", cases[i].text, rc, (long long)p);
    }
}

static void test_price_json_numbers_are_taken_only_when_exact(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        int rc;
        int64_t price;
    } cases[] = {
        {"0.6", 0, 6000},
        {"1e-4", 0, 1},
        {"1", 0, 10000},
        {"0.3125", 0, 3125},
        {"99.9999", 0, 999999},
        {"100", 0, 1000000},
        {"\"1.0237\"", 0, 10237},
        {"0.00005", -EINVAL, 0},
        {"0.30000000000000004", -EINVAL, 0},
        {"-0.1", -ERANGE, 0},
        {"-1", -ERANGE, 0},
        {"100.0001", -ERANGE, 0},
        {"1e300", -ERANGE, 0},
        {"true", -EMEDIUMTYPE, 0},
        {"null", -EMEDIUMTYPE, 0},
        {"[1]", -EMEDIUMTYPE, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_error_t je;
        json_t *v = json_loads(cases[i].json, JSON_DECODE_ANY, &je);
        assert_non_null(v);
        int64_t p = -1;
        int rc = tariff_price_from_json(v, &p);
        if (rc != cases[i].rc || (rc == 0 && p != cases[i].price))
            fail_msg("%s: rc %d price %lld", cases[i].json, rc, (long long)p);
        json_decref(v);
    }
}

/* Every price there is, written as text and as the JSON number a client would send,
 * reads back as itself. */
static void test_every_price_round_trips(void **state)
{
    (void)state;
    for (int64_t p = 0; p <= TARIFF_PRICE_MAX; p++) {
        char text[TARIFF_PRICE_TEXT_LEN];
        int64_t back = -1;
        tariff_price_format(p, text);
        if (tariff_price_parse(text, &back) || back != p)
            fail_msg("text %s of %lld read back as %lld", text, (long long)p, (long long)back);
        json_t *real = json_real(strtod(text, NULL));
        back = -1;
        if (tariff_price_from_json(real, &back) || back != p)
            fail_msg("number %s of %lld read back as %lld", text, (long long)p, (long long)back);
        json_decref(real);
    }
}

static void test_parses_the_spec_body(void **state)
{
    (void)state;
    struct tariff t;
    char err[TARIFF_ERR_LEN] = "";
    const char *body = "{\"periods\":[{\"from\":\"00:00\",\"price\":\"0.3125\",\"label\":\"谷\"},"
                       "{\"from\":\"08:00\",\"price\":1.0237,\"label\":\"peak\"},"
                       "{\"from\":\"12:00\",\"price\":\"0.6418\",\"label\":\"平\"},"
                       "{\"from\":\"22:00\",\"price\":0.3125}],"
                       "\"effective_from\":\"2026-12-01T00:00:00+08:00\"}";
    assert_int_equal(parse(body, &t, err), 0);
    assert_int_equal(t.effective_from_ms, utc("2026-11-30T16:00:00Z"));
    assert_int_equal(t.n_periods, 4);
    assert_int_equal(t.period[0].from_min, 0);
    assert_int_equal(t.period[0].price, 3125);
    assert_int_equal(t.period[0].label, TARIFF_LABEL_VALLEY);
    assert_int_equal(t.period[1].from_min, 8 * 60);
    assert_int_equal(t.period[1].price, 10237);
    assert_int_equal(t.period[1].label, TARIFF_LABEL_PEAK);
    assert_int_equal(t.period[2].label, TARIFF_LABEL_FLAT);
    assert_int_equal(t.period[3].from_min, 22 * 60);
    assert_int_equal(t.period[3].label, TARIFF_LABEL_NONE);

    /* A flat tariff, effective now. */
    assert_int_equal(parse("{\"periods\":[{\"from\":\"00:00\",\"price\":\"0.6000\"}]}", &t, err),
                     0);
    assert_int_equal(t.n_periods, 1);
    assert_int_equal(t.effective_from_ms, utc("2026-12-07T08:00:00Z"));
    assert_int_equal(t.period[0].price, 6000);
}

static void test_refuses_bad_bodies_naming_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *body, *says;
    } cases[] = {
        {"[]", "JSON object"},
        {"{}", "periods"},
        {"{\"periods\":[]}", "periods"},
        {"{\"periods\":{}}", "periods"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1}],\"tz\":\"UTC\"}", "unknown key \"tz\""},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1,\"colour\":1}]}",
         "periods[0]: unknown key"},
        {"{\"periods\":[1]}", "periods[0]: not an object"},
        {"{\"periods\":[{\"from\":\"24:00\",\"price\":1}]}", "periods[0].from"},
        {"{\"periods\":[{\"from\":\"8:00\",\"price\":1}]}", "periods[0].from"},
        {"{\"periods\":[{\"from\":\"08:60\",\"price\":1}]}", "periods[0].from"},
        {"{\"periods\":[{\"from\":480,\"price\":1}]}", "periods[0].from"},
        {"{\"periods\":[{\"price\":1}]}", "periods[0].from"},
        {"{\"periods\":[{\"from\":\"00:00\"}]}", "periods[0].price: missing"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":\"0.12345\"}]}", "at most 4 decimals"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":-1}]}", "0 to 100.0000"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":\"abc\"}]}", "periods[0].price"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1,\"label\":\"high\"}]}", "periods[0].label"},
        {"{\"periods\":[{\"from\":\"08:00\",\"price\":1},{\"from\":\"08:00\",\"price\":2}]}",
         "periods[1].from: periods must be in order"},
        {"{\"periods\":[{\"from\":\"08:00\",\"price\":1},{\"from\":\"07:00\",\"price\":2}]}",
         "periods[1].from: periods must be in order"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1},{\"from\":\"01:00\",\"price\":1},"
         "{\"from\":\"02:00\",\"price\":1},{\"from\":\"03:00\",\"price\":1},{\"from\":\"04:00\","
         "\"price\":1},{\"from\":\"05:00\",\"price\":1},{\"from\":\"06:00\",\"price\":1},"
         "{\"from\":\"07:00\",\"price\":1},{\"from\":\"08:00\",\"price\":1}]}",
         "at most 8 periods"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1}],\"effective_from\":\"yesterday\"}",
         "effective_from"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1}],\"effective_from\":1796630400000}",
         "effective_from"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1}],\"effective_from\":\"1999-12-31T00:00:"
         "00Z\"}",
         "2000 to 2199"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1}],\"periods\":[]}", "malformed JSON"},
        {"{\"periods\":[[[{}]]]}", "nested deeper"},
        {"{\"periods\":[{\"from\":\"00:00\",\"price\":1}]", "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tariff t;
        char err[TARIFF_ERR_LEN] = "";
        int rc = parse(cases[i].body, &t, err);
        if (rc != -EINVAL || !strstr(err, cases[i].says))
            fail_msg("%s: rc %d, \"%s\" does not say \"%s\"", cases[i].body, rc, err,
                     cases[i].says);
    }
    /* The 8 periods the limit allows pass. */
    struct tariff t;
    char err[TARIFF_ERR_LEN];
    assert_int_equal(parse("{\"periods\":[{\"from\":\"00:00\",\"price\":1},{\"from\":\"01:00\","
                           "\"price\":1},{\"from\":\"02:00\",\"price\":1},{\"from\":\"03:00\","
                           "\"price\":1},{\"from\":\"04:00\",\"price\":1},{\"from\":\"05:00\","
                           "\"price\":1},{\"from\":\"06:00\",\"price\":1},{\"from\":\"23:59\","
                           "\"price\":1}]}",
                           &t, err),
                     0);
    assert_int_equal(t.n_periods, 8);
}

static void test_what_get_writes_put_reads_back(void **state)
{
    (void)state;
    struct tariff t, back;
    char err[TARIFF_ERR_LEN];
    assert_int_equal(
        parse("{\"periods\":[{\"from\":\"00:30\",\"price\":\"0.3125\",\"label\":\"谷\"},"
              "{\"from\":\"08:00\",\"price\":1.5,\"label\":\"尖\"},{\"from\":\"23:15\","
              "\"price\":0}],\"effective_from\":\"2026-12-01T00:00:00.250Z\"}",
              &t, err),
        0);
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    struct jsonw w;
    jsonw_init(&w, &b);
    tariff_write_json(&w, &t);
    assert_int_equal(jsonw_error(&w), 0);
    assert_non_null(strstr(b.buf, "\"from\":\"00:30\",\"price\":\"0.3125\",\"label\":\"谷\""));
    assert_non_null(strstr(b.buf, "\"effective_from\":\"2026-12-01T00:00:00.250Z\""));
    assert_int_equal(tariff_parse(b.buf, b.len, 0, &back, err), 0);
    assert_int_equal(back.effective_from_ms, t.effective_from_ms);
    assert_int_equal(back.n_periods, t.n_periods);
    for (uint32_t i = 0; i < t.n_periods; i++) {
        assert_int_equal(back.period[i].from_min, t.period[i].from_min);
        assert_int_equal(back.period[i].price, t.period[i].price);
        assert_int_equal(back.period[i].label, t.period[i].label);
    }
    dynbuf_free(&b);
}

static void test_period_in_force_wraps_past_midnight(void **state)
{
    (void)state;
    struct tariff t = {
        .effective_from_ms = utc("2026-01-01T00:00:00Z"),
        .n_periods = 2,
        .period = {{8 * 60, TARIFF_LABEL_PEAK, 9000}, {22 * 60, TARIFF_LABEL_VALLEY, 3000}}};
    char err[TARIFF_ERR_LEN];
    assert_int_equal(tariff_validate(&t, err), 0);
    assert_int_equal(tariff_period_at(&t, 0), 1);         /* 00:00: the 22:00 period still */
    assert_int_equal(tariff_period_at(&t, 8 * H - 1), 1); /* 07:59:59.999 */
    assert_int_equal(tariff_period_at(&t, 8 * H), 0);     /* 08:00 exactly: the new one */
    assert_int_equal(tariff_period_at(&t, 22 * H - 1), 0);
    assert_int_equal(tariff_period_at(&t, 22 * H), 1);
    assert_int_equal(tariff_period_at(&t, 24 * H - 1), 1);
}

static void test_quote_holds_until_the_next_boundary(void **state)
{
    (void)state;
    use("Asia/Shanghai");
    struct tariff v[2] = {
        {.effective_from_ms = utc("2026-11-01T00:00:00+08:00"),
         .n_periods = 2,
         .period = {{8 * 60, TARIFF_LABEL_PEAK, 9000}, {22 * 60, TARIFF_LABEL_VALLEY, 3000}}},
        {.effective_from_ms = utc("2026-11-20T09:17:23.456+08:00"),
         .n_periods = 1,
         .period = {{0, TARIFF_LABEL_NONE, 6000}}},
    };
    char err[TARIFF_ERR_LEN];
    assert_int_equal(tariff_versions_check(v, 2, err), 0);
    struct tariff_quote q;
    tariff_quote_at(v, 2, utc("2026-10-31T23:59:59.999+08:00"), &q);
    assert_null(q.version);
    assert_int_equal(q.price, 0);
    assert_int_equal(q.until_ms, v[0].effective_from_ms);
    tariff_quote_at(v, 2, utc("2026-11-05T03:00:00+08:00"), &q);
    assert_ptr_equal(q.version, &v[0]);
    assert_int_equal(q.period, 1);
    assert_int_equal(q.price, 3000);
    assert_int_equal(q.until_ms, utc("2026-11-05T08:00:00+08:00"));
    tariff_quote_at(v, 2, utc("2026-11-05T08:00:00+08:00"), &q);
    assert_int_equal(q.period, 0);
    assert_int_equal(q.until_ms, utc("2026-11-05T22:00:00+08:00"));
    tariff_quote_at(v, 2, utc("2026-11-05T23:00:00+08:00"), &q);
    assert_int_equal(q.until_ms, utc("2026-11-06T08:00:00+08:00"));
    /* The version change cuts the 08:00..22:00 period short. */
    tariff_quote_at(v, 2, utc("2026-11-20T09:00:00+08:00"), &q);
    assert_int_equal(q.until_ms, v[1].effective_from_ms);
    tariff_quote_at(v, 2, v[1].effective_from_ms, &q);
    assert_ptr_equal(q.version, &v[1]);
    assert_int_equal(q.price, 6000);
    assert_int_equal(q.until_ms, INT64_MAX);
    assert_ptr_equal(tariff_version_at(v, 2, v[1].effective_from_ms - 1), &v[0]);

    struct tariff bad[2] = {v[1], v[0]};
    assert_int_equal(tariff_versions_check(bad, 2, err), -EINVAL);
}

/* Europe/Berlin, 2026: clocks go 02:00 -> 03:00 on 29 March (01:00 UTC) and 03:00 -> 02:00
 * on 25 October (01:00 UTC). A period from 02:30 follows the wall clock. */
static void test_periods_follow_the_wall_clock_across_dst(void **state)
{
    (void)state;
    use("Europe/Berlin");
    struct tariff v = {
        .effective_from_ms = utc("2026-01-01T00:00:00Z"),
        .n_periods = 2,
        .period = {{2 * 60 + 30, TARIFF_LABEL_PEAK, 9000}, {6 * 60, TARIFF_LABEL_VALLEY, 3000}}};
    struct tariff_quote q;
    /* Spring: 02:30 never shows; the 02:30 period starts when the clock jumps to 03:00. */
    tariff_quote_at(&v, 1, utc("2026-03-29T00:59:00Z"), &q); /* 01:59 CET */
    assert_int_equal(q.period, 1);
    assert_int_equal(q.until_ms, utc("2026-03-29T01:00:00Z"));
    tariff_quote_at(&v, 1, q.until_ms, &q); /* 03:00 CEST */
    assert_int_equal(q.period, 0);
    assert_int_equal(q.until_ms, utc("2026-03-29T04:00:00Z")); /* 06:00 CEST */
    /* Autumn: 02:30 shows twice; 02:00..02:30 the second time is the 06:00 period again. */
    tariff_quote_at(&v, 1, utc("2026-10-25T00:00:00Z"), &q); /* 02:00 CEST */
    assert_int_equal(q.period, 1);
    assert_int_equal(q.until_ms, utc("2026-10-25T00:30:00Z"));
    tariff_quote_at(&v, 1, q.until_ms, &q); /* 02:30 CEST */
    assert_int_equal(q.period, 0);
    assert_int_equal(q.until_ms, utc("2026-10-25T01:00:00Z")); /* back to 02:00 CET */
    tariff_quote_at(&v, 1, q.until_ms, &q);
    assert_int_equal(q.period, 1);
    assert_int_equal(q.until_ms, utc("2026-10-25T01:30:00Z")); /* 02:30 CET */
    tariff_quote_at(&v, 1, q.until_ms, &q);
    assert_int_equal(q.period, 0);
    assert_int_equal(q.until_ms, utc("2026-10-25T05:00:00Z")); /* 06:00 CET */

    /* Wall-clock hours: the repeated 02:00 hour is two hours, each its own. */
    assert_int_equal(wallclock_hour_start(utc("2026-10-25T00:40:00Z")),
                     utc("2026-10-25T00:00:00Z"));
    assert_int_equal(wallclock_hour_end(utc("2026-10-25T00:40:00Z")), utc("2026-10-25T01:00:00Z"));
    assert_int_equal(wallclock_hour_start(utc("2026-10-25T01:40:00Z")),
                     utc("2026-10-25T01:00:00Z"));
    assert_int_equal(wallclock_time_of_day_ms(utc("2026-10-25T01:40:00Z")), 2 * H + 40 * MIN);
}

/* Kathmandu is UTC+05:45 and Lord Howe Island shifts by half an hour: hours start off UTC's. */
static void test_hours_in_odd_offsets(void **state)
{
    (void)state;
    use("Asia/Kathmandu");
    assert_int_equal(wallclock_hour_start(utc("2026-11-23T10:20:00Z")),
                     utc("2026-11-23T10:15:00Z"));
    assert_int_equal(wallclock_hour_end(utc("2026-11-23T10:20:00Z")), utc("2026-11-23T11:15:00Z"));
    use("Australia/Lord_Howe");
    /* 2026-10-04 02:00 +10:30 -> 02:30 +11:00 (15:30 UTC the day before). */
    int64_t change = utc("2026-10-03T15:30:00Z");
    assert_int_equal(wallclock_next_change(change - H, change + H), change);
    assert_int_equal(wallclock_hour_end(change - 10 * MIN), change);
    assert_int_equal(wallclock_hour_start(change + 10 * MIN), change);
    assert_int_equal(wallclock_hour_end(change + 10 * MIN), change + 30 * MIN); /* 03:00 */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_price_text_is_exact_to_four_decimals),
        cmocka_unit_test(test_price_json_numbers_are_taken_only_when_exact),
        cmocka_unit_test(test_every_price_round_trips),
        cmocka_unit_test(test_parses_the_spec_body),
        cmocka_unit_test(test_refuses_bad_bodies_naming_the_field),
        cmocka_unit_test(test_what_get_writes_put_reads_back),
        cmocka_unit_test(test_period_in_force_wraps_past_midnight),
        cmocka_unit_test(test_quote_holds_until_the_next_boundary),
        cmocka_unit_test(test_periods_follow_the_wall_clock_across_dst),
        cmocka_unit_test(test_hours_in_odd_offsets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
