/*
 * Topics: meters/<id>/<leaf> built for every leaf and split back; everything
 * else refused, naming the device when only the leaf is unknown; the
 * server's plain and shared subscription filters; the names' limits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "topic.h"

static void test_device_ids_are_topic_and_url_safe(void **state)
{
    (void)state;
    assert_true(device_id_valid("meter-01"));
    assert_true(device_id_valid("site.A:3_x"));
    assert_false(device_id_valid(""));
    assert_false(device_id_valid("a/b"));
    assert_false(device_id_valid("a+b"));
    assert_false(device_id_valid("a#"));
    assert_false(device_id_valid("a b"));
    assert_false(device_id_valid("x\n"));
    char longid[DEVICE_ID_MAX + 2];
    memset(longid, 'a', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    assert_false(device_id_valid(longid));
    longid[DEVICE_ID_MAX] = '\0';
    assert_true(device_id_valid(longid));
}

static void test_every_leaf_builds_and_splits_back(void **state)
{
    (void)state;
    static const char *const names[TOPIC__COUNT] = {
        [TOPIC_TELEMETRY] = "meters/m-1/telemetry",
        [TOPIC_STATUS] = "meters/m-1/status",
        [TOPIC_CMD] = "meters/m-1/cmd",
        [TOPIC_REPLY] = "meters/m-1/reply",
        [TOPIC_ACK] = "meters/m-1/ack",
        [TOPIC_CAPTURE] = "meters/m-1/capture",
    };
    for (int k = 0; k < TOPIC__COUNT; k++) {
        char topic[TOPIC_MAX], id[DEVICE_ID_MAX + 1];
        enum topic_leaf leaf = TOPIC__COUNT;
        assert_int_equal(topic_build(topic, "m-1", (enum topic_leaf)k), 0);
        assert_string_equal(topic, names[k]);
        assert_int_equal(topic_split(topic, strlen(topic), id, &leaf), 0);
        assert_string_equal(id, "m-1");
        assert_int_equal(leaf, k);
    }
    assert_null(topic_leaf_name(TOPIC__COUNT));
}

static void test_the_longest_device_id_fits_and_one_more_does_not(void **state)
{
    (void)state;
    char id[DEVICE_ID_MAX + 2], topic[TOPIC_MAX], back[DEVICE_ID_MAX + 1];
    enum topic_leaf leaf;
    memset(id, 'z', DEVICE_ID_MAX);
    id[DEVICE_ID_MAX] = '\0';
    assert_int_equal(topic_build(topic, id, TOPIC_TELEMETRY), 0); /* the longest leaf */
    assert_int_equal(strlen(topic), TOPIC_MAX - 1);
    assert_int_equal(topic_split(topic, strlen(topic), back, &leaf), 0);
    assert_string_equal(back, id);

    id[DEVICE_ID_MAX] = 'z';
    id[DEVICE_ID_MAX + 1] = '\0';
    memcpy(topic, "untouched", 10);
    assert_int_equal(topic_build(topic, id, TOPIC_ACK), -EINVAL);
    assert_string_equal(topic, "untouched");
    char longer[TOPIC_MAX + 2];
    snprintf(longer, sizeof(longer), "meters/%s/ack", id);
    assert_int_equal(topic_split(longer, strlen(longer), back, &leaf), -EINVAL);
    assert_int_equal(topic_build(topic, "m1", TOPIC__COUNT), -EINVAL);
}

static void test_bad_topics_are_refused_naming_the_device_when_they_can(void **state)
{
    (void)state;
    static const struct {
        const char *topic;
        int error;
        const char *id; /* written with -ENOENT: the id was valid, the leaf unknown */
    } cases[] = {
        {"", -EINVAL, NULL},
        {"meters", -EINVAL, NULL},
        {"meters/", -EINVAL, NULL},
        {"meters/m1", -EINVAL, NULL},
        {"meters//telemetry", -EINVAL, NULL},
        {"meter/m1/telemetry", -EINVAL, NULL},
        {"Meters/m1/telemetry", -EINVAL, NULL},
        {"/meters/m1/telemetry", -EINVAL, NULL},
        {"meters/bad+id/telemetry", -EINVAL, NULL},
        {"meters/a b/status", -EINVAL, NULL},
        {"$share/g/meters/m1/telemetry", -EINVAL, NULL},
        {"meters/m1/other", -ENOENT, "m1"},
        {"meters/m1/", -ENOENT, "m1"},
        {"meters/m1/telemetry/extra", -ENOENT, "m1"},
        {"meters/m1/Telemetry", -ENOENT, "m1"},
        {"meters/m1/telemetr", -ENOENT, "m1"},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        char id[DEVICE_ID_MAX + 1] = "untouched";
        enum topic_leaf leaf = TOPIC__COUNT;
        int r = topic_split(cases[k].topic, strlen(cases[k].topic), id, &leaf);
        if (r != cases[k].error || strcmp(id, cases[k].id ? cases[k].id : "untouched") != 0)
            fail_msg("'%s': got %d, id '%s'", cases[k].topic, r, id);
        assert_int_equal(leaf, TOPIC__COUNT);
    }
}

static void test_a_topic_is_read_only_up_to_its_length(void **state)
{
    (void)state;
    /* MQTT libraries hand topics over with a length, not always NUL-terminated. */
    const char *buf = "meters/m1/ackXYZ";
    char id[DEVICE_ID_MAX + 1];
    enum topic_leaf leaf;
    assert_int_equal(topic_split(buf, strlen("meters/m1/ack"), id, &leaf), 0);
    assert_int_equal(leaf, TOPIC_ACK);
    assert_int_equal(topic_split(buf, strlen("meters/m1"), id, &leaf), -EINVAL);
}

/* Found by fuzz_topic: "meters/m1\0x/ack" split as device m1. */
static void test_an_id_with_a_nul_is_no_id(void **state)
{
    (void)state;
    static const char topic[] = "meters/m1\0x/ack";
    char id[DEVICE_ID_MAX + 1] = "";
    enum topic_leaf leaf;
    assert_int_equal(topic_split(topic, sizeof(topic) - 1, id, &leaf), -EINVAL);
    assert_string_equal(id, "");
}

static void test_subscription_filters_are_plain_or_shared(void **state)
{
    (void)state;
    char f[TOPIC_FILTER_MAX];
    assert_int_equal(topic_filter(f, TOPIC_TELEMETRY, NULL), 0);
    assert_string_equal(f, "meters/+/telemetry");
    assert_int_equal(topic_filter(f, TOPIC_CAPTURE, ""), 0);
    assert_string_equal(f, "meters/+/capture");
    assert_int_equal(topic_filter(f, TOPIC_STATUS, "ingest.eu-1_a"), 0);
    assert_string_equal(f, "$share/ingest.eu-1_a/meters/+/status");

    char group[TOPIC_SHARE_GROUP_MAX + 2];
    memset(group, 'g', TOPIC_SHARE_GROUP_MAX);
    group[TOPIC_SHARE_GROUP_MAX] = '\0';
    assert_int_equal(topic_filter(f, TOPIC_TELEMETRY, group), 0); /* the longest filter */
    assert_int_equal(strlen(f),
                     strlen("$share/") + TOPIC_SHARE_GROUP_MAX + strlen("/meters/+/telemetry"));
    group[TOPIC_SHARE_GROUP_MAX] = 'g';
    group[TOPIC_SHARE_GROUP_MAX + 1] = '\0';
    assert_int_equal(topic_filter(f, TOPIC_TELEMETRY, group), -EINVAL);
    static const char *const bad[] = {"a/b", "a+", "#", "a b", "a:b"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        assert_false(topic_share_group_valid(bad[k]));
        assert_int_equal(topic_filter(f, TOPIC_REPLY, bad[k]), -EINVAL);
    }
    assert_int_equal(topic_filter(f, TOPIC__COUNT, NULL), -EINVAL);
}

static void test_protocol_names_take_only_their_alphabet(void **state)
{
    (void)state;
    assert_true(wire_name_valid("abc-9_Z", 7, "_-"));
    assert_false(wire_name_valid("abc-9_Z", 6, "_-"));
    assert_false(wire_name_valid("a.b", 8, "_-"));
    assert_true(wire_name_valid("a.b", 8, "."));
    assert_false(wire_name_valid("", 8, "_-"));
    assert_false(wire_name_valid("\xc3\xa9", 8, "_-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_device_ids_are_topic_and_url_safe),
        cmocka_unit_test(test_every_leaf_builds_and_splits_back),
        cmocka_unit_test(test_the_longest_device_id_fits_and_one_more_does_not),
        cmocka_unit_test(test_bad_topics_are_refused_naming_the_device_when_they_can),
        cmocka_unit_test(test_a_topic_is_read_only_up_to_its_length),
        cmocka_unit_test(test_an_id_with_a_nul_is_no_id),
        cmocka_unit_test(test_subscription_filters_are_plain_or_shared),
        cmocka_unit_test(test_protocol_names_take_only_their_alphabet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
