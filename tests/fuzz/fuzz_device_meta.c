/*
 * A device metadata PATCH body (server/api/api_device_meta.c,
 * api_device_meta_parse, over device_meta.c's field table) on any bytes
 * parsed as JSON the way the API parses bodies.
 *
 * Checks: a refusal says why; an accepted body sets or clears at least one
 * field, never both for one field, and every field it sets is within its
 * bounds (device_meta_check); the answer's writer (api_write_device_meta)
 * gives valid JSON that reads back to the same values.
 */
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "fuzz.h"
#include "jsonutil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = NULL;
    char err[DEVICE_META_ERR_LEN], jerr[JSON_ERR_LEN];
    if (json_load_limited((const char *)data, size, 8, &body, jerr) || !json_is_object(body)) {
        json_decref(body);
        return 0;
    }
    struct device_meta set;
    uint32_t clear;
    err[0] = '\0';
    int r = api_device_meta_parse(body, &set, &clear, err);
    json_decref(body);
    if (r) {
        FUZZ_CHECK(err[0]);
        return 0;
    }
    FUZZ_CHECK((set.present | clear) != 0 && (set.present & clear) == 0);
    FUZZ_CHECK(((set.present | clear) & ~DM_ALL) == 0);
    FUZZ_CHECK(device_meta_check(&set, err) == 0);

    struct dynbuf b;
    struct jsonw w;
    dynbuf_init(&b, 1 << 16);
    jsonw_init(&w, &b);
    jsonw_obj_begin(&w);
    api_write_device_meta(&w, &set, false);
    jsonw_obj_end(&w);
    FUZZ_CHECK(jsonw_error(&w) == 0 && fuzz_json_valid(b.buf, b.len));
    json_t *back = json_loadb(b.buf, b.len, 0, NULL);
    FUZZ_CHECK(back != NULL);
    for (int k = 0; k < DM__COUNT; k++) {
        enum device_meta_field f = (enum device_meta_field)k;
        json_t *v = json_object_get(back, device_meta_desc(f)->name);
        if (!(set.present & DM_BIT(f))) {
            FUZZ_CHECK(json_is_null(v));
        } else if (device_meta_desc(f)->type == DMT_TEXT) {
            FUZZ_CHECK(json_is_string(v) &&
                       strcmp(json_string_value(v), device_meta_text(&set, f)) == 0);
        } else {
            /* numbers are written to round-trip */
            FUZZ_CHECK(json_is_number(v) && json_number_value(v) == device_meta_number(&set, f));
        }
    }
    json_decref(back);
    dynbuf_free(&b);
    return 0;
}
