/*
 * Device metadata over a real store, on every backend: a device nobody
 * described, setting some fields and keeping the others, clearing, bounds
 * refused with nothing changed, one DTU address per bus, a deleted device's
 * metadata going with it. Usage: test_store_device_meta URL (sqlite:PATH or
 * mysql://...; the database must be empty; a sqlite file is removed first).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store.h"
#include "store_fixture.h"

static const char *url;
static struct store *st;

#define HASH_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define T0_MS  INT64_C(1796079600000)

static int64_t add_device(const char *name)
{
    int64_t id = 0;
    assert_int_equal(store_device_add(st, name, HASH_A, 0, &id), 0);
    return id;
}

static void set_num(struct device_meta *m, enum device_meta_field f, double v)
{
    char err[DEVICE_META_ERR_LEN];
    assert_int_equal(device_meta_set_number(m, f, v, err), 0);
}

static void set_text(struct device_meta *m, enum device_meta_field f, const char *v)
{
    char err[DEVICE_META_ERR_LEN];
    assert_int_equal(device_meta_set_text(m, f, v, err), 0);
}

static void test_an_undescribed_device_has_no_fields(void **state)
{
    (void)state;
    int64_t pk = add_device("meta-0");
    struct device_meta m;
    memset(&m, 0xff, sizeof(m));
    assert_int_equal(store_device_meta_get(st, pk, &m), 0);
    assert_int_equal(m.present, 0);
    assert_int_equal(m.updated_ms, 0);
    assert_string_equal(m.name, "");
}

static void test_fields_are_set_kept_and_cleared(void **state)
{
    (void)state;
    int64_t pk = add_device("meta-1");
    struct device_meta set = {0}, now;
    set_text(&set, DM_NAME, "1号变压器");
    set_text(&set, DM_SITE, "North park");
    set_num(&set, DM_NOMINAL_VOLTAGE, 10000);
    set_num(&set, DM_NOMINAL_HZ, 50);
    set_num(&set, DM_RATED_KVA, 630.5);
    set_num(&set, DM_PT_RATIO, 100);
    set_num(&set, DM_LATITUDE, -33.8688);
    assert_int_equal(store_device_meta_update(st, pk, &set, 0, "op", T0_MS, &now), 0);
    assert_int_equal(now.present, set.present);

    struct device_meta m;
    assert_int_equal(store_device_meta_get(st, pk, &m), 0);
    assert_int_equal(m.present, set.present);
    assert_string_equal(m.name, "1号变压器");
    assert_string_equal(m.site, "North park");
    assert_true(m.nominal_voltage == 10000);
    assert_int_equal(m.nominal_hz, 50);
    assert_true(m.rated_kva == 630.5);
    assert_true(m.pt_ratio == 100);
    assert_true(m.latitude == -33.8688);
    assert_int_equal(m.updated_ms, T0_MS);
    assert_string_equal(m.updated_by, "op");
    assert_false(m.present & DM_BIT(DM_RATED_CURRENT));

    /* a second change sets one field, clears another, keeps the rest */
    struct device_meta more = {0};
    set_num(&more, DM_RATED_CURRENT, 909.3);
    set_text(&more, DM_DTU_ID, "860000000000001");
    set_num(&more, DM_MODBUS_UNIT, 3);
    set_num(&more, DM_POLL_INTERVAL_S, 60);
    set_text(&more, DM_REGISTER_MAP, "sdm630");
    assert_int_equal(
        store_device_meta_update(st, pk, &more, DM_BIT(DM_LATITUDE), "admin", T0_MS + 1, NULL), 0);
    assert_int_equal(store_device_meta_get(st, pk, &m), 0);
    assert_true(m.rated_current == 909.3);
    assert_false(m.present & DM_BIT(DM_LATITUDE));
    assert_string_equal(m.name, "1号变压器");
    assert_true(m.nominal_voltage == 10000);
    assert_string_equal(m.dtu_id, "860000000000001");
    assert_int_equal(m.modbus_unit, 3);
    assert_int_equal(m.poll_interval_s, 60);
    assert_string_equal(m.register_map, "sdm630");
    assert_string_equal(m.updated_by, "admin");
}

static void test_out_of_bounds_values_are_refused(void **state)
{
    (void)state;
    char err[DEVICE_META_ERR_LEN];
    struct device_meta m = {0};
    assert_int_equal(device_meta_set_number(&m, DM_NOMINAL_HZ, 55, err), -EINVAL);
    assert_non_null(strstr(err, "50 or 60"));
    assert_int_equal(device_meta_set_number(&m, DM_LATITUDE, 90.5, err), -EINVAL);
    assert_int_equal(device_meta_set_number(&m, DM_MODBUS_UNIT, 248, err), -EINVAL);
    assert_int_equal(device_meta_set_number(&m, DM_MODBUS_UNIT, 2.5, err), -EINVAL);
    assert_int_equal(device_meta_set_number(&m, DM_CT_RATIO, 0.5, err), -EINVAL);
    assert_int_equal(device_meta_set_number(&m, DM_NOMINAL_VOLTAGE, 1e6 + 1, err), -EINVAL);
    assert_int_equal(device_meta_set_text(&m, DM_NAME, "", err), -EINVAL);
    assert_int_equal(device_meta_set_text(&m, DM_NAME, "tab\there", err), -EINVAL);
    assert_int_equal(device_meta_set_text(&m, DM_DTU_ID, "has space", err), -EINVAL);
    assert_int_equal(device_meta_set_text(&m, DM_REGISTER_MAP, "SDM630", err), -EINVAL);
    char long_name[DEVICE_META_NAME_MAX + 2];
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(device_meta_set_text(&m, DM_NAME, long_name, err), -EINVAL);
    long_name[DEVICE_META_NAME_MAX] = '\0'; /* exactly the limit */
    assert_int_equal(device_meta_set_text(&m, DM_NAME, long_name, err), 0);
    assert_int_equal(m.present, DM_BIT(DM_NAME));

    /* the store checks too: a forged struct changes nothing */
    int64_t pk = add_device("meta-2");
    struct device_meta bad = {.present = DM_BIT(DM_NOMINAL_HZ), .nominal_hz = 400};
    assert_int_equal(store_device_meta_update(st, pk, &bad, 0, "op", T0_MS, NULL), -EINVAL);
    assert_non_null(strstr(store_errmsg(st), "nominal_hz"));
    struct device_meta got;
    assert_int_equal(store_device_meta_get(st, pk, &got), 0);
    assert_int_equal(got.present, 0);
    assert_int_equal(store_device_meta_update(st, pk + 1000, &m, 0, "op", T0_MS, NULL), -ENOENT);
}

static void test_one_device_per_dtu_address(void **state)
{
    (void)state;
    int64_t a = add_device("meta-3"), b = add_device("meta-4");
    struct device_meta m = {0};
    set_text(&m, DM_DTU_ID, "DTU-77");
    set_num(&m, DM_MODBUS_UNIT, 1);
    assert_int_equal(store_device_meta_update(st, a, &m, 0, "op", T0_MS, NULL), 0);
    assert_int_equal(store_device_meta_update(st, b, &m, 0, "op", T0_MS, NULL), -EEXIST);
    /* a's row is untouched by b's attempt */
    struct device_meta got;
    assert_int_equal(store_device_meta_get(st, a, &got), 0);
    assert_string_equal(got.dtu_id, "DTU-77");
    assert_int_equal(store_device_meta_get(st, b, &got), 0);
    assert_int_equal(got.present, 0);
    set_num(&m, DM_MODBUS_UNIT, 2);
    assert_int_equal(store_device_meta_update(st, b, &m, 0, "op", T0_MS, NULL), 0);
    /* the same unit on another DTU, or on none, is fine */
    struct device_meta other = {0};
    set_num(&other, DM_MODBUS_UNIT, 1);
    int64_t c = add_device("meta-5");
    assert_int_equal(store_device_meta_update(st, c, &other, 0, "op", T0_MS, NULL), 0);
}

static void test_deleting_a_device_deletes_its_metadata(void **state)
{
    (void)state;
    int64_t pk = add_device("meta-6");
    struct device_meta m = {0};
    set_text(&m, DM_SITE, "gone");
    assert_int_equal(store_device_meta_update(st, pk, &m, 0, "op", T0_MS, NULL), 0);
    assert_int_equal(store_device_delete(st, "meta-6"), 0);
    struct device_meta got;
    assert_int_equal(store_device_meta_get(st, pk, &got), 0);
    assert_int_equal(got.present, 0);
}

static int group_setup(void **state)
{
    (void)state;
    return store_fixture_open(url, STORE_FIXTURE_MIGRATE | STORE_FIXTURE_UTC, &st);
}

static int group_teardown(void **state)
{
    (void)state;
    store_fixture_close(&st);
    return 0;
}

int main(int argc, char **argv)
{
    url = store_fixture_url(argc, argv);
    if (!url)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_an_undescribed_device_has_no_fields),
        cmocka_unit_test(test_fields_are_set_kept_and_cleared),
        cmocka_unit_test(test_out_of_bounds_values_are_refused),
        cmocka_unit_test(test_one_device_per_dtu_address),
        cmocka_unit_test(test_deleting_a_device_deletes_its_metadata),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
