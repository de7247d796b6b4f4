/*
 * The tariff parser (server/billing/tariff.c): tariff_parse() on the body of
 * PUT /api/devices/:device_id/tariff, and the price readers on the input as
 * text (tariff_price_parse) and as a bare JSON value (tariff_price_from_json).
 *
 * Checks: an accepted tariff obeys tariff_validate() (1..8 periods in order,
 * prices 0..100.0000, effective_from in 2000..2199), and what GET writes of it
 * (tariff_write_json) parses back as the same tariff; a refusal is -EINVAL
 * with a message that is non-empty UTF-8 without control characters; an
 * accepted price is in range and reads back from its text and as a JSON real.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "fuzz.h"
#include "jsonw.h"
#include "tariff.h"

static void check_message(const char *err)
{
    FUZZ_CHECK(err[0] != '\0' && strlen(err) < TARIFF_ERR_LEN);
    for (const char *p = err; *p; p++)
        FUZZ_CHECK((unsigned char)*p >= 0x20);
    json_t *s = json_string(err); /* NULL unless valid UTF-8 */
    FUZZ_CHECK(s != NULL);
    json_decref(s);
}

static void check_tariff(const char *data, size_t size)
{
    struct tariff t, back;
    char err[TARIFF_ERR_LEN] = "";
    int r = tariff_parse(data, size, FUZZ_NOW_MS, &t, err);
    if (r) {
        FUZZ_CHECK(r == -EINVAL);
        check_message(err);
        return;
    }
    FUZZ_CHECK(tariff_validate(&t, err) == 0);
    struct dynbuf b;
    dynbuf_init(&b, 4096);
    struct jsonw w;
    jsonw_init(&w, &b);
    tariff_write_json(&w, &t);
    FUZZ_CHECK(jsonw_error(&w) == 0);
    FUZZ_CHECK(tariff_parse(b.buf, b.len, 0, &back, err) == 0);
    FUZZ_CHECK(back.effective_from_ms == t.effective_from_ms && back.n_periods == t.n_periods);
    for (uint32_t i = 0; i < t.n_periods; i++)
        FUZZ_CHECK(back.period[i].from_min == t.period[i].from_min &&
                   back.period[i].price == t.period[i].price &&
                   back.period[i].label == t.period[i].label);
    dynbuf_free(&b);
}

static void check_price_again(int64_t price)
{
    FUZZ_CHECK(price >= 0 && price <= TARIFF_PRICE_MAX);
    char text[TARIFF_PRICE_TEXT_LEN];
    int64_t again = -1;
    tariff_price_format(price, text);
    FUZZ_CHECK(tariff_price_parse(text, &again) == 0 && again == price);
    json_t *real = json_real(strtod(text, NULL));
    again = -1;
    FUZZ_CHECK(tariff_price_from_json(real, &again) == 0 && again == price);
    json_decref(real);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_tariff((const char *)data, size);

    char *text = fuzz_cstr(data, size);
    int64_t price = -1;
    int r = tariff_price_parse(text, &price);
    FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE);
    if (r == 0)
        check_price_again(price);
    free(text);

    json_error_t e;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &e);
    if (v) {
        r = tariff_price_from_json(v, &price);
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ERANGE || r == -EMEDIUMTYPE);
        FUZZ_CHECK((r == -EMEDIUMTYPE) == !(json_is_number(v) || json_is_string(v)));
        if (r == 0)
            check_price_again(price);
        json_decref(v);
    }
    return 0;
}
