/*
 * The tree-less decoder (telemetry_fast.c) against the general one (telemetry.c over
 * jansson): whenever it answers, its readings are the general decoder's to the byte; it
 * answers for what meters send; it leaves everything else, errors included, alone.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "dynbuf.h"
#include "fileutil.h"
#include "jsonutil.h"
#include "telemetry.h"

#define NOW_MS    INT64_C(1767225600000) /* 2026-01-01 */
#define MAX_ITEMS 16

static const struct telemetry_opts mqtt = {.device_id = "dev-1",
                                           .now_ms = NOW_MS,
                                           .max_future_ms = 86400000,
                                           .require_seq_ts = true,
                                           .max_items = MAX_ITEMS};
static const struct telemetry_opts http = {
    .now_ms = NOW_MS, .max_future_ms = 86400000, .max_items = MAX_ITEMS};

/* The general decoder alone: a tree, then the readings. */
static int decode_slow(const char *p, size_t len, const struct telemetry_opts *o,
                       struct reading *out, struct telemetry_result *res)
{
    json_t *root;
    char err[JSON_ERR_LEN];
    memset(res, 0, sizeof(*res));
    if (json_load_limited(p, len, TELEMETRY_MAX_DEPTH, &root, err))
        return -1;
    int r = telemetry_decode_json(root, o, out, MAX_ITEMS, res);
    json_decref(root);
    return r;
}

static int fast_answers;

/* When the fast decoder answers, the general one agrees byte for byte; returns whether it did. */
static bool compare(const char *p, size_t len, const struct telemetry_opts *o)
{
    static struct reading fast[MAX_ITEMS], slow[MAX_ITEMS];
    struct telemetry_result rf, rs;
    memset(fast, 0xa5, sizeof(fast));
    if (!telemetry_decode_fast(p, len, o, fast, MAX_ITEMS, &rf))
        return false;
    fast_answers++;
    int r = decode_slow(p, len, o, slow, &rs);
    if (r != 0 || rs.n_invalid != 0 || rs.n_valid != rf.n_valid) {
        fprintf(stderr, "disagree on: %.*s\n", (int)len, p);
        fail();
    }
    assert_int_equal(rf.n_invalid, 0);
    assert_memory_equal(fast, slow, rf.n_valid * sizeof(fast[0]));
    return true;
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

static void compare_dir(const char *sub)
{
    char *dir = data_path(sub, "");
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        char *path = data_path(sub, e->d_name);
        char *text = NULL;
        size_t n = 0;
        assert_int_equal(file_read_all(path, 1 << 20, &text, &n), 0);
        compare(text, n, &mqtt);
        compare(text, n, &http);
        free(text);
        free(path);
    }
    closedir(d);
    free(dir);
}

static void test_the_test_data_decode_alike(void **state)
{
    (void)state;
    fast_answers = 0;
    compare_dir("valid");
    compare_dir("invalid");
    assert_true(fast_answers > 0);
}

/* What meters send: the meter's own encoder's output, single and as a backlog. */
static const char *const taken[] = {
    "{\"seq\":2,\"ts\":\"2026-01-01T00:00:01.355Z\",\"voltage\":230,\"current\":10,"
    "\"power_w\":2300,\"reactive_var\":0,\"apparent_va\":2300,\"pf\":1,\"freq_hz\":50.000123,"
    "\"energy_wh\":1.277,\"energy_export_wh\":0,\"boot\":1}",
    " [ {\"seq\":500,\"ts\":\"2025-12-31T18:46:00.000Z\",\"voltage\":230.2,\"current\":3.1} ,\n"
    "\t{\"seq\":501,\"ts\":1767225500000,\"voltage\":2.302e2,\"current\":-0.0E0,\"relay\":\"off\","
    "\"wiring\":\"3p4w\",\"sequence\":\"acb\",\"device_id\":\"dev-1\"} ]\r\n",
    "{\"seq\":0,\"ts\":1767225600000,\"voltage\":0,\"current\":0,\"pf\":null,\"energy_wh\":null,"
    "\"relay\":null,\"energy_wh_a\":1}",
    "{\"seq\":9223372036854775807,\"ts\":\"2026-01-01T08:00:00+08:00\",\"voltage\":1e6,"
    "\"current\":100000,\"energy_wh\":1000000000000000,\"samples_dropped\":3,"
    "\"demand_max_ts\":1767225600000,\"energy_a_wh\":0.0005}",
};

static void test_what_meters_send_takes_the_fast_way(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(taken) / sizeof(taken[0]); k++) {
        /* "energy_wh_a" is no field: that one goes the general way */
        bool expect = strstr(taken[k], "energy_wh_a") == NULL;
        assert_int_equal(compare(taken[k], strlen(taken[k]), &mqtt), expect);
    }
    /* Every field the wire defines, as the encoder writes them. */
    struct reading r[3];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 3; i++) {
        r[i].seq = (uint64_t)(i + 1);
        r[i].has_seq = true;
        r[i].ts_ms = NOW_MS - 1000 * (3 - i);
        for (int f = 0; f < RR__COUNT; f++)
            reading_set_real(&r[i], (enum reading_real)f,
                             reading_reals[f].min +
                                 (reading_reals[f].max - reading_reals[f].min) * (0.1 + 0.01 * i));
        for (int c = 0; c < RC__COUNT; c++)
            reading_set_counter(&r[i], (enum reading_counter)c,
                                reading_counters[c].scale * (int64_t)(c + 7 * i));
        for (int l = 0; l < RL__COUNT; l++)
            assert_int_equal(
                reading_set_label(&r[i], (enum reading_label)l, reading_labels[l].values[0]), 0);
    }
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    assert_int_equal(telemetry_encode_payload(r, 3, true, &b), 0);
    assert_true(compare(dynbuf_str(&b), b.len, &mqtt));
    dynbuf_reset(&b);
    assert_int_equal(telemetry_encode_payload(r, 1, false, &b), 0);
    assert_true(compare(dynbuf_str(&b), b.len, &mqtt));
    dynbuf_free(&b);
}

/* Each is left to the general decoder: not what it takes, or not valid. */
static const char *const left[] = {
    "",
    "   ",
    "[]",
    "{}",
    "null",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,\"note\":\"x\"}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,\"voltage\":231}",
    "{\"seq\":1,\"ts\":\"2026-01-01T00:00:00\\u005a\",\"voltage\":230,\"current\":1}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,\"relay\":\"\xc3\xa9\"}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":true}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":[1]}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":1e400,\"current\":1}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":1e-400,\"current\":1}",
    "{\"seq\":9223372036854775808,\"ts\":1767225600000,\"voltage\":230,\"current\":1}",
    "{\"seq\":-1,\"ts\":1767225600000,\"voltage\":230,\"current\":1}",
    "{\"seq\":1.0,\"ts\":1767225600000,\"voltage\":230,\"current\":1}",
    "{\"seq\":01,\"ts\":1767225600000,\"voltage\":230,\"current\":1}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230.,\"current\":1}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":null,\"current\":1}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230}",
    "{\"seq\":1,\"ts\":null,\"voltage\":230,\"current\":1}",
    "{\"seq\":1,\"voltage\":230,\"current\":1}",
    "{\"seq\":1,\"ts\":946684799999,\"voltage\":230,\"current\":1}",
    "{\"seq\":1,\"ts\":1767312000001,\"voltage\":230,\"current\":1}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":100001}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,\"boot\":1.5}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,\"energy_wh\":-1}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,\"relay\":\"maybe\"}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,\"device_id\":\"dev-2\"}",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1} x",
    "{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1,}",
    "[{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1},]",
    "[{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1},{\"seq\":2}]",
    "[[{\"seq\":1,\"ts\":1767225600000,\"voltage\":230,\"current\":1}]]",
};

static void test_anything_else_is_left_to_the_general_decoder(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(left) / sizeof(left[0]); k++) {
        struct reading out[MAX_ITEMS];
        struct telemetry_result res;
        if (telemetry_decode_fast(left[k], strlen(left[k]), &mqtt, out, MAX_ITEMS, &res)) {
            fprintf(stderr, "taken: %s\n", left[k]);
            fail();
        }
    }
    /* An array longer than max_items. */
    struct dynbuf b;
    dynbuf_init(&b, 1 << 16);
    dynbuf_addc(&b, '[');
    for (int i = 0; i <= MAX_ITEMS; i++) {
        char item[128];
        int n = snprintf(item, sizeof(item),
                         "%s{\"seq\":%d,\"ts\":1767225600000,\"voltage\":230,\"current\":1}",
                         i ? "," : "", i);
        dynbuf_add(&b, item, (size_t)n);
    }
    dynbuf_addc(&b, ']');
    struct reading out[MAX_ITEMS + 1];
    struct telemetry_result res;
    assert_int_equal(telemetry_decode_fast(dynbuf_str(&b), b.len, &mqtt, out, MAX_ITEMS, &res), 0);
    dynbuf_free(&b);
}

/* Every one-byte change and every cut of the payloads meters send: where the fast decoder
   answers, it agrees. */
static void test_every_small_change_decodes_alike(void **state)
{
    (void)state;
    static const char subst[] = "0159-+.eE\"{}[],: nx\\\x01\x80";
    char buf[1024];
    for (size_t k = 0; k < sizeof(taken) / sizeof(taken[0]); k++) {
        size_t len = strlen(taken[k]);
        assert_true(len < sizeof(buf));
        for (size_t i = 0; i < len; i++) {
            for (size_t s = 0; s < sizeof(subst) - 1; s++) {
                memcpy(buf, taken[k], len);
                buf[i] = subst[s];
                compare(buf, len, &mqtt);
                compare(buf, len, &http);
            }
            compare(taken[k], i, &mqtt);
            memcpy(buf, taken[k], i);
            memcpy(buf + i, taken[k] + i + 1, len - i - 1);
            compare(buf, len - 1, &mqtt);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_test_data_decode_alike),
        cmocka_unit_test(test_what_meters_send_takes_the_fast_way),
        cmocka_unit_test(test_anything_else_is_left_to_the_general_decoder),
        cmocka_unit_test(test_every_small_change_decodes_alike),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
