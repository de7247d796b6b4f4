/*
 * The MMS server's BER reader and writer (server/mms/ber.h): the encodings
 * MMS uses round-trip in their shortest form, and a corpus of malformed
 * elements (tests/data/mms/malformed) is refused with the error each names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mms_test_util.h"

static void assert_bytes(const uint8_t *got, size_t got_len, const char *hex)
{
    uint8_t want[256];
    size_t n = 0;
    for (const char *p = hex; *p;) {
        unsigned v;
        int used;
        if (sscanf(p, " %2x%n", &v, &used) != 1)
            break;
        want[n++] = (uint8_t)v;
        p += used;
    }
    assert_int_equal(got_len, n);
    assert_memory_equal(got, want, n);
}

static void test_integers_are_written_in_shortest_twos_complement(void **state)
{
    (void)state;
    static const struct {
        int64_t v;
        const char *hex;
    } cases[] = {{0, "02 01 00"},
                 {127, "02 01 7f"},
                 {128, "02 02 00 80"},
                 {-1, "02 01 ff"},
                 {-128, "02 01 80"},
                 {-129, "02 02 ff 7f"},
                 {65000, "02 03 00 fd e8"},
                 {INT64_MIN, "02 08 80 00 00 00 00 00 00 00"},
                 {INT64_MAX, "02 08 7f ff ff ff ff ff ff ff"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[16];
        struct ber_writer w;
        ber_w_init(&w, buf, sizeof(buf));
        ber_w_int(&w, BER_INTEGER, cases[i].v);
        assert_true(ber_w_ok(&w));
        assert_bytes(buf, w.len, cases[i].hex);
        struct ber_cursor c;
        struct ber_tlv t;
        int64_t back;
        ber_cursor_init(&c, buf, w.len);
        assert_int_equal(ber_expect(&c, BER_INTEGER, &t), 0);
        assert_int_equal(ber_get_int(&t, &back), 0);
        assert_true(back == cases[i].v);
    }
}

static void test_unsigned_values_keep_a_leading_zero_octet_when_the_top_bit_is_set(void **state)
{
    (void)state;
    uint8_t buf[16];
    struct ber_writer w;
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_uint(&w, BER_CTX(6), 255);
    assert_bytes(buf, w.len, "86 02 00 ff");
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_uint(&w, BER_INTEGER, UINT64_MAX);
    assert_bytes(buf, w.len, "02 09 00 ff ff ff ff ff ff ff ff");
    struct ber_cursor c;
    struct ber_tlv t;
    uint64_t v;
    ber_cursor_init(&c, buf, w.len);
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_uint(&t, &v), 0);
    assert_true(v == UINT64_MAX);
    static const uint8_t negative[] = {0x02, 0x01, 0x80};
    ber_cursor_init(&c, negative, sizeof(negative));
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_uint(&t, &v), -ERANGE);
}

static void test_long_contents_get_a_long_form_length_on_close(void **state)
{
    (void)state;
    uint8_t buf[400], blob[300];
    memset(blob, 0x5a, sizeof(blob));
    struct ber_writer w;
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_open(&w, BER_SEQUENCE);
    ber_w_prim(&w, BER_OCTET_STRING, blob, sizeof(blob));
    ber_w_close(&w);
    assert_true(ber_w_ok(&w));
    /* 30 82 01 30 | 04 82 01 2c | 300 octets */
    assert_int_equal(w.len, 4 + 4 + 300);
    assert_bytes(buf, 8, "30 82 01 30 04 82 01 2c");
    struct ber_cursor c, in;
    struct ber_tlv seq, os;
    ber_cursor_init(&c, buf, w.len);
    assert_int_equal(ber_expect(&c, BER_SEQUENCE, &seq), 0);
    assert_int_equal(ber_enter(&seq, &in), 0);
    assert_int_equal(ber_expect(&in, BER_OCTET_STRING, &os), 0);
    assert_int_equal(os.len, 300);
    assert_memory_equal(os.val, blob, 300);
    assert_true(ber_at_end(&in) && ber_at_end(&c));
}

static void test_multi_byte_tag_numbers_round_trip(void **state)
{
    (void)state;
    uint8_t buf[16];
    struct ber_writer w;
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_null(&w, BER_CTX(200));
    assert_bytes(buf, w.len, "9f 81 48 00");
    struct ber_cursor c;
    struct ber_tlv t;
    ber_cursor_init(&c, buf, w.len);
    assert_int_equal(ber_next(&c, &t), 0);
    assert_true(t.tag == BER_CTX(200));
    assert_int_equal(t.len, 0);
}

static void test_mms_floats_are_exponent_width_then_ieee_single(void **state)
{
    (void)state;
    uint8_t buf[16];
    struct ber_writer w;
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_mms_float(&w, BER_CTX(7), 231.5f);
    assert_bytes(buf, w.len, "87 05 08 43 67 80 00");
    struct ber_cursor c;
    struct ber_tlv t;
    double v;
    ber_cursor_init(&c, buf, w.len);
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_mms_float(&t, &v), 0);
    assert_true(v == 231.5);
    static const uint8_t bad_width[] = {0x87, 0x05, 0x07, 0x43, 0x67, 0x80, 0x00};
    ber_cursor_init(&c, bad_width, sizeof(bad_width));
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_mms_float(&t, &v), -EBADMSG);
}

static void test_utc_time_keeps_milliseconds(void **state)
{
    (void)state;
    static const int64_t cases[] = {
        0, 1, 999, 1796630400000, 1796630400001, 1796630400999, 1796630401234};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[16];
        struct ber_writer w;
        ber_w_init(&w, buf, sizeof(buf));
        ber_w_utc_ms(&w, BER_CTX(17), cases[i], 0x0a);
        assert_int_equal(w.len, 10);
        struct ber_cursor c;
        struct ber_tlv t;
        int64_t ms;
        uint8_t q;
        ber_cursor_init(&c, buf, w.len);
        assert_int_equal(ber_next(&c, &t), 0);
        assert_int_equal(ber_get_utc_ms(&t, &ms, &q), 0);
        assert_true(ms == cases[i]);
        assert_int_equal(q, 0x0a);
    }
}

static void test_bit_strings_carry_their_unused_bit_count(void **state)
{
    (void)state;
    uint8_t buf[16], q[2] = {0xc1, 0xff}, back[4];
    struct ber_writer w;
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_bits(&w, BER_CTX(4), q, 13);
    /* The three bits past the thirteenth are cleared. */
    assert_bytes(buf, w.len, "84 03 03 c1 f8");
    struct ber_cursor c;
    struct ber_tlv t;
    size_t nbits;
    ber_cursor_init(&c, buf, w.len);
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_bits(&t, back, sizeof(back), &nbits), 0);
    assert_int_equal(nbits, 13);
    assert_int_equal(back[0], 0xc1);
    static const uint8_t bad_unused[] = {0x03, 0x02, 0x08, 0x00};
    ber_cursor_init(&c, bad_unused, sizeof(bad_unused));
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_bits(&t, back, sizeof(back), &nbits), -EBADMSG);
}

static void test_visible_strings_refuse_control_characters_and_overflow(void **state)
{
    (void)state;
    static const uint8_t ok[] = {0x1a, 0x04, 'L', 'L', 'N', '0'};
    static const uint8_t ctl[] = {0x1a, 0x02, 'A', '\n'};
    char s[8];
    struct ber_cursor c;
    struct ber_tlv t;
    ber_cursor_init(&c, ok, sizeof(ok));
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_visible(&t, s, sizeof(s)), 0);
    assert_string_equal(s, "LLN0");
    assert_int_equal(ber_get_visible(&t, s, 4), -EMSGSIZE); /* no room for the NUL */
    ber_cursor_init(&c, ctl, sizeof(ctl));
    assert_int_equal(ber_next(&c, &t), 0);
    assert_int_equal(ber_get_visible(&t, s, sizeof(s)), -EBADMSG);
}

static void test_a_writer_out_of_room_says_so_once_at_the_end(void **state)
{
    (void)state;
    uint8_t buf[6];
    struct ber_writer w;
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_open(&w, BER_SEQUENCE);
    ber_w_visible(&w, BER_VISIBLE_STR, "MMXU1$MX$TotW");
    ber_w_close(&w);
    assert_false(ber_w_ok(&w));
    ber_w_init(&w, buf, sizeof(buf));
    ber_w_close(&w); /* closing what was never opened */
    assert_false(ber_w_ok(&w));
    uint8_t big[256];
    ber_w_init(&w, big, sizeof(big));
    for (int i = 0; i <= BER_MAX_DEPTH; i++)
        ber_w_open(&w, BER_SEQUENCE);
    assert_false(ber_w_ok(&w));
}

static void test_the_depth_bound_holds_at_its_limit(void **state)
{
    (void)state;
    /* BER_MAX_DEPTH - 1 nested SEQUENCEs are read; one more is refused. */
    uint8_t buf[2 * BER_MAX_DEPTH + 2];
    for (int depth = BER_MAX_DEPTH - 1; depth <= BER_MAX_DEPTH; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) {
            buf[n++] = 0x30;
            buf[n++] = (uint8_t)(2 * (depth - i - 1));
        }
        int r = mms_ber_walk_buf(buf, n);
        assert_int_equal(r, depth < BER_MAX_DEPTH ? 0 : -ELOOP);
    }
}

static void test_malformed_corpus_is_refused(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int err;
    } expect[] = {
        {"truncated_value", -EMSGSIZE},       {"truncated_length", -EBADMSG},
        {"truncated_tag", -EBADMSG},          {"over_long_length", -EMSGSIZE},
        {"length_past_cap", -EBADMSG},        {"indefinite_length", -EBADMSG},
        {"reserved_length", -EBADMSG},        {"padded_tag_number", -EBADMSG},
        {"short_tag_in_long_form", -EBADMSG}, {"tag_number_too_long", -EBADMSG},
        {"inner_past_outer", -EMSGSIZE},      {"too_deep", -ELOOP},
        {"truncated_mms_read", -EMSGSIZE},
    };
    const char *dir = getenv("TEST_DATA_DIR");
    assert_non_null(dir);
    char path[512];
    snprintf(path, sizeof(path), "%s/mms/malformed", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    size_t files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".hex") != 0)
            continue;
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(n - 4), e->d_name);
        char file[1024];
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        uint8_t buf[1024];
        long len = mms_hex_file(file, buf, sizeof(buf));
        assert_true(len > 0);
        int r = mms_ber_walk_buf(buf, (size_t)len);
        bool known = false;
        for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++)
            if (strcmp(expect[i].file, name) == 0) {
                known = true;
                if (r != expect[i].err)
                    fail_msg("%s: got %d, want %d", name, r, expect[i].err);
            }
        if (!known)
            fail_msg("%s: a corpus file without an expected error", name);
        files++;
    }
    closedir(d);
    assert_int_equal(files, sizeof(expect) / sizeof(expect[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_integers_are_written_in_shortest_twos_complement),
        cmocka_unit_test(test_unsigned_values_keep_a_leading_zero_octet_when_the_top_bit_is_set),
        cmocka_unit_test(test_long_contents_get_a_long_form_length_on_close),
        cmocka_unit_test(test_multi_byte_tag_numbers_round_trip),
        cmocka_unit_test(test_mms_floats_are_exponent_width_then_ieee_single),
        cmocka_unit_test(test_utc_time_keeps_milliseconds),
        cmocka_unit_test(test_bit_strings_carry_their_unused_bit_count),
        cmocka_unit_test(test_visible_strings_refuse_control_characters_and_overflow),
        cmocka_unit_test(test_a_writer_out_of_room_says_so_once_at_the_end),
        cmocka_unit_test(test_the_depth_bound_holds_at_its_limit),
        cmocka_unit_test(test_malformed_corpus_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
